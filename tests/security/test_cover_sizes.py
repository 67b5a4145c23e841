"""Unbounded numeric parameters (Navidrome CVE-2026-25579: a huge `size` on getCoverArt ran the server out of
memory, then filled the disk with cached giant images). Every size is clamped or refused, nothing is upscaled,
and absurd sizes never add cache entries of their own."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.conf import settings
from PIL import Image

from library.models import Album, Track
from tests.security.test_path_traversal import assert_refused
from tests.subsonic.support import SubsonicClient, parse

pytestmark = [pytest.mark.django_db, pytest.mark.security]
ORIGINAL = (1200, 800)
CLAMPED_SIZES = ["1000000000", str(2**62), "99999", "2049"]
BAD_SIZES = [
    str(2**63),
    str(2**64 + 1),
    "-1",
    "-99999999999",
    "abc",
    "1e3",
    "0x10",
    "12px",
    "9" * 5000,
    "1.5",
    "\x00",
    "NaN",
    "∞",
]


@pytest.fixture
def cover_id(tracks: list[Track]) -> str:
    album = tracks[0].album
    path = Path(settings.MEDIA_ROOT) / "covers" / "probe.jpg"
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", ORIGINAL, (10, 120, 200)).save(path)
    Album.objects.filter(pk=album.pk).update(cover_path="covers/probe.jpg")
    return f"al-{album.pk}"


def _cached_files() -> list[Path]:
    return sorted((Path(settings.MCMA_CACHE_DIR) / "covers").rglob("*.*"))


def _image_size(owner_sub: SubsonicClient, cover_id: str, size: str) -> tuple[int, int]:
    response = owner_sub.raw("getCoverArt", id=cover_id, size=size, **owner_sub.auth_params())
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/"), (size, response["Content-Type"])
    data = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    return Image.open(io.BytesIO(data)).size


def test_giant_sizes_are_clamped_never_upscaled(owner_sub: SubsonicClient, cover_id: str) -> None:
    for size in CLAMPED_SIZES:
        assert _image_size(owner_sub, cover_id, size) == ORIGINAL, size
    assert _cached_files() == []  # the original is sent as is: nothing bigger was made or stored


def test_giant_sizes_share_one_cache_entry(owner_sub: SubsonicClient, cover_id: str) -> None:
    for size in ("3000", "4000", "1000000", str(2**40)):
        width, height = _image_size(owner_sub, cover_id, size)
        assert max(width, height) <= max(ORIGINAL)
    small = [_image_size(owner_sub, cover_id, size) for size in ("300", "300", "300")]
    assert len(set(small)) == 1  # the exact size may snap to a bucket; it is the same answer every time
    assert max(small[0]) < max(ORIGINAL)
    assert len(_cached_files()) == 1


@pytest.mark.parametrize("size", BAD_SIZES)
def test_malformed_and_negative_sizes_are_refused_clearly(owner_sub: SubsonicClient, cover_id: str, size: str) -> None:
    for fmt in ("xml", "json"):
        params = {"id": cover_id, "size": size, "v": "1.16.1", "c": "probe", **owner_sub.auth_params()}
        if fmt == "json":
            params["f"] = "json"
        reply = parse("getCoverArt", fmt, owner_sub.raw("getCoverArt", **params))
        assert_refused(reply)
        assert "size" in reply.error_message


def test_zero_size_means_the_original(owner_sub: SubsonicClient, cover_id: str) -> None:
    assert _image_size(owner_sub, cover_id, "0") == ORIGINAL
