"""library.covers under hostile load: size buckets share one cache entry, resizes are bounded per process, and
decompression bombs or broken images are refused with a clear error instead of being decoded."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from PIL import Image

from library import covers
from library.covers import RESIZE_CONCURRENCY, SIZE_BUCKETS, CoverTooLargeError, cover_image, size_bucket
from mcma.errors import NotFoundError
from tests.images import bomb_png

pytestmark = pytest.mark.security


def _store(relative: str, size: tuple[int, int], fmt: str = "JPEG") -> str:
    path = Path(settings.MEDIA_ROOT) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (10, 120, 200)).save(path, fmt)
    return relative


def _cached_files() -> list[Path]:
    return sorted(p for p in (Path(settings.MCMA_CACHE_DIR) / "covers").rglob("*") if p.is_file())


@pytest.mark.parametrize(
    ("requested", "bucket"),
    [(1, 32), (32, 32), (33, 64), (300, 300), (301, 512), (1000, 1024), (1007, 1024), (2048, 2048), (10**9, 2048)],
)
def test_sizes_snap_up_to_a_bucket(requested: int, bucket: int) -> None:
    assert size_bucket(requested) == bucket


def test_buckets_never_more_than_double() -> None:
    assert all(b <= 2 * a for a, b in itertools.pairwise(SIZE_BUCKETS))


def _counting_resize(monkeypatch: pytest.MonkeyPatch, delay: float = 0.0) -> dict[str, int]:
    """Wrap the resize step to count calls and the most that ran at once."""
    real: Callable[..., Any] = covers._resize
    seen = {"calls": 0, "running": 0, "most": 0}
    lock = threading.Lock()

    def counted(*args: Any) -> Any:
        with lock:
            seen["calls"] += 1
            seen["running"] += 1
            seen["most"] = max(seen["most"], seen["running"])
        try:
            time.sleep(delay)
            return real(*args)
        finally:
            with lock:
                seen["running"] -= 1

    monkeypatch.setattr(covers, "_resize", counted)
    return seen


def test_eight_clients_asking_1000_to_1007_share_one_resize(monkeypatch: pytest.MonkeyPatch) -> None:
    relative = _store("covers/big.jpg", (2400, 2400))
    seen = _counting_resize(monkeypatch, delay=0.05)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda size: cover_image(relative_path=relative, size=size), range(1000, 1008)))

    assert len({path for path, _mime in results}) == 1
    assert len(_cached_files()) == 1
    assert seen["calls"] == 1
    with Image.open(results[0][0]) as image:
        assert image.size == (1024, 1024)


def test_concurrent_resizes_are_bounded_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    relative = _store("covers/big.jpg", (2400, 2400))
    seen = _counting_resize(monkeypatch, delay=0.1)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda size: cover_image(relative_path=relative, size=size), SIZE_BUCKETS[:8]))

    assert seen["calls"] == 8
    assert seen["most"] == RESIZE_CONCURRENCY


def test_a_decompression_bomb_is_refused_before_it_is_decoded() -> None:
    bomb_png(Path(settings.MEDIA_ROOT) / "covers/bomb.png")

    with pytest.raises(
        CoverTooLargeError,
        match=r"too large to resize \(more than 50,000,000 pixels; at most 25,000,000 pixels are resized\)",
    ):
        cover_image(relative_path="covers/bomb.png", size=1000)
    assert _cached_files() == []
    assert issubclass(CoverTooLargeError, NotFoundError)  # Subsonic 70 and REST 404: players show a placeholder


def test_a_large_jpeg_counts_only_what_draft_decodes(settings: Any) -> None:
    settings.COVER_MAX_PIXELS = 1_000_000
    _store("covers/big.jpg", (2000, 2000))
    _store("covers/big.png", (2000, 2000), fmt="PNG")

    path, _mime = cover_image(relative_path="covers/big.jpg", size=128)  # decoded at 1/4: 500x500

    with Image.open(path) as image:
        assert image.size == (128, 128)
    with pytest.raises(CoverTooLargeError, match=r"2000x2000 pixels; at most 1,000,000 pixels"):  # PNG: no draft
        cover_image(relative_path="covers/big.png", size=128)


def test_a_truncated_image_is_not_found_not_a_crash() -> None:
    _store("covers/whole.png", (600, 600), fmt="PNG")
    whole = (Path(settings.MEDIA_ROOT) / "covers/whole.png").read_bytes()
    (Path(settings.MEDIA_ROOT) / "covers/cut.png").write_bytes(whole[: len(whole) // 2])

    with pytest.raises(NotFoundError, match="not a readable image"):
        cover_image(relative_path="covers/cut.png", size=100)
