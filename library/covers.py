"""Cover images: the stored original, or a resized copy cached under MCMA_CACHE_DIR/covers (the only Pillow
importer). Players ask for the same few sizes over and over, so each (file, version, size bucket) is resized
once; the cache key includes the file's mtime and size, so a replaced cover never serves a stale thumbnail.

Memory is bounded three ways, because a 260 KB PNG can decode to gigabytes: requested sizes snap to a few buckets
(so `size=1000…1007` cannot bypass the cache), an image whose decoded pixels exceed COVER_MAX_PIXELS is refused
before it is decoded (JPEGs first shrink in the decoder with `draft`, so only what is decoded counts), and each
process resizes at most RESIZE_CONCURRENCY covers at a time.
"""

from __future__ import annotations

import bisect
import colorsys
import hashlib
import io
import os
import tempfile
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO

from django.conf import settings
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from library.disk_cache import cache_file_used, cache_trim
from library.storage import media_path
from mcma.errors import NotFoundError

MIN_SIZE = 1
# Sizes a resize is snapped up to (never down: a player gets at least what it asked for, and scales). Powers of
# two for list and grid thumbnails, 300 and 600 (the Subsonic web clients' 1x and 2x), then now-playing and
# full-screen art; no step is more than twice the last, and a cover has at most this many cached copies.
SIZE_BUCKETS = (32, 64, 128, 256, 300, 512, 600, 800, 1024, 1500, 2048)
MAX_SIZE = SIZE_BUCKETS[-1]
# Per process: a gunicorn worker's threads share it. Two decodes at COVER_MAX_PIXELS (4 bytes a pixel) is the
# most a worker ever holds for covers; further requests wait for a slot and then usually find the cache filled.
RESIZE_CONCURRENCY = 2
# Resize in two steps (integer `reduce`/`draft`, then LANCZOS over at most 3x): Pillow documents 3.0 as
# indistinguishable from a fair resample, and it is much cheaper on a large original.
_REDUCING_GAP = 3.0
_MIME_BY_SUFFIX = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}

# Pillow's own decompression-bomb guard (a warning above the limit, an error above twice it) agrees with ours, for
# any open that does not go through `_resize`.
Image.MAX_IMAGE_PIXELS = int(settings.COVER_MAX_PIXELS)
_resize_slots = threading.BoundedSemaphore(RESIZE_CONCURRENCY)
# One resize per cache key at a time, so a burst of requests for one bucket decodes the original once. Striped
# rather than one lock per key: a fixed, small set of locks, and two keys rarely share one.
_key_locks = tuple(threading.Lock() for _ in range(64))


class CoverTooLargeError(NotFoundError):
    """The cover has more pixels than COVER_MAX_PIXELS: it is not resized (players then show their placeholder)."""

    code = "cover_too_large"


def _cache_dir() -> Path:
    return Path(settings.MCMA_CACHE_DIR) / "covers"


def _original_mime(path: Path) -> str:
    known = _MIME_BY_SUFFIX.get(path.suffix.lower())
    if known:
        return known
    try:
        with Image.open(path) as image:
            return Image.MIME.get(image.format or "", "application/octet-stream")
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError):
        return "application/octet-stream"


def size_bucket(size: int) -> int:
    """The smallest bucket at least `size` (the largest for anything bigger)."""
    return SIZE_BUCKETS[min(bisect.bisect_left(SIZE_BUCKETS, max(MIN_SIZE, size)), len(SIZE_BUCKETS) - 1)]


def cover_image(*, relative_path: str, size: int | None) -> tuple[Path, str]:
    """The file to send and its content type. `size` is the longest side in pixels, snapped up to a bucket; None
    or 0 means the original. Images are never upscaled. NotFoundError when the file is gone or not an image,
    CoverTooLargeError (a NotFoundError) when it has too many pixels to resize."""
    return _sized(media_path(relative_path), relative_path, size)


# The placeholder's default side when no size is asked for (the Subsonic web clients' 2x size).
PLACEHOLDER_SIZE = 600
_PLACEHOLDER_TEXT = (245, 245, 245)
# Placeholder text: at most this many characters a line and lines a label, so any name fits the square.
_LABEL_WIDTH = 18
_LABEL_LINES = 3


def placeholder_image(*, size: int | None, seed: str, title: str = "", subtitle: str = "") -> tuple[Path, str]:
    """A generated cover for an item with no art, so players that fetch every `coverArt` id get a picture: the
    item's name (and artist) on a colour derived from `seed` (its id), so each album keeps its own colour. Drawn
    once per (item, label, size bucket), then served from the cache."""
    bucket = size_bucket(size) if size else PLACEHOLDER_SIZE
    key = hashlib.sha256(f"{seed}\0{title}\0{subtitle}\0{bucket}".encode()).hexdigest()
    target = _cache_dir() / "placeholder" / key[:2] / f"{key}.png"
    if not target.exists():
        image = Image.new("RGB", (bucket, bucket), _placeholder_colour(seed))
        draw = ImageDraw.Draw(image)
        margin = bucket / 12
        y = margin
        for text, scale in ((title, 0.09), (subtitle, 0.06)):
            font = ImageFont.load_default(size=max(8, round(bucket * scale)))
            for line in textwrap.wrap(text, _LABEL_WIDTH)[:_LABEL_LINES]:
                draw.text((margin, y), line, fill=_PLACEHOLDER_TEXT, font=font)
                y += bucket * scale * 1.25
            y += bucket * scale * 0.5
        _write_atomically(target, lambda out: image.save(out, "PNG", optimize=True))
    return target, "image/png"


def _placeholder_colour(seed: str) -> tuple[int, int, int]:
    """A muted colour picked by the seed's hash: any hue, fixed saturation and lightness, so light text reads."""
    hue = int(hashlib.sha256(seed.encode()).hexdigest()[:4], 16) / 0xFFFF
    red, green, blue = colorsys.hls_to_rgb(hue, 0.35, 0.45)
    return round(red * 255), round(green * 255), round(blue * 255)


def image_problem(data: bytes) -> str:
    """Why `data` cannot be a cover ("" when it can): not an image Pillow reads, or too many pixels."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            image.verify()
    except Image.DecompressionBombError:
        return f"the picture has more than {int(settings.COVER_MAX_PIXELS):,} pixels"
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
        return "the picture is not a readable image"
    if width * height > int(settings.COVER_MAX_PIXELS):
        return f"the picture has {width}x{height} pixels, more than {int(settings.COVER_MAX_PIXELS):,}"
    if (Image.MIME.get(image.format or "") or "") not in _MIME_BY_SUFFIX.values():
        return f"the picture is {image.format or 'of an unknown format'}, not a JPEG, PNG or WebP"
    return ""


def remote_cover_image(*, key: str, fetch: Callable[[], tuple[bytes, str]], size: int | None) -> tuple[Path, str]:
    """The cover of an item outside the library (a source's thumbnail), fetched once into the cover cache under
    `key` (the item's id), then served and resized like a stored cover. `fetch` returns (bytes, mime). Originals
    and their resized copies live under covers/remote, kept within REMOTE_COVER_CACHE_SIZE (least recently used
    dropped first): the catalogue behind them has no end, unlike the library's."""
    name = hashlib.sha256(key.encode()).hexdigest()
    folder = _remote_dir()
    original = next((path for path in folder.glob(f"{name}.*") if not path.name.startswith(".")), None)
    if original is None:
        image, mime = fetch()
        suffix = next((s for s, m in _MIME_BY_SUFFIX.items() if m == mime), None)
        if suffix is None:
            raise NotFoundError(f"The source's cover is {mime or 'untyped'}, not a JPEG, PNG or WebP image.")
        original = folder / f"{name}{suffix}"
        _write_atomically(original, lambda out: out.write(image))
        cache_trim(folder, max_bytes=settings.REMOTE_COVER_CACHE_SIZE)
    cache_file_used(original)
    served = _sized(original, f"remote/{original.name}", size, cache_dir=folder / "sized")
    cache_file_used(served[0])
    return served


def _remote_dir() -> Path:
    return _cache_dir() / "remote"


def _sized(source: Path, cache_name: str, size: int | None, *, cache_dir: Path | None = None) -> tuple[Path, str]:
    """`source` at `size`, resized once into `cache_dir` (the cover cache by default)."""
    try:
        stat = source.stat()
    except OSError as exc:
        raise NotFoundError("The cover file is missing from storage.") from exc
    if not size:
        return source, _original_mime(source)
    folder = cache_dir or _cache_dir()
    bucket = size_bucket(size)
    key = hashlib.sha256(f"{cache_name}\0{stat.st_mtime_ns}\0{stat.st_size}\0{bucket}".encode()).hexdigest()
    cached = _cached(folder, key)
    if cached is not None:
        return cached
    with _key_locks[int(key[:8], 16) % len(_key_locks)]:
        # Whoever held the lock has usually just written this very bucket: the common case under a burst.
        cached = _cached(folder, key)
        if cached is not None:
            return cached
        with _resize_slots:
            return _resize(source, folder, key, bucket)


def _cached(folder: Path, key: str) -> tuple[Path, str] | None:
    for suffix, mime in ((".jpg", "image/jpeg"), (".png", "image/png")):
        cached = folder / key[:2] / f"{key}{suffix}"
        if cached.exists():
            return cached, mime
    return None


def _resize(source: Path, folder: Path, key: str, size: int) -> tuple[Path, str]:
    try:
        with Image.open(source) as image:
            if max(image.size) <= size:
                return source, Image.MIME.get(image.format or "", "application/octet-stream")
            image.draft(None, (round(size * _REDUCING_GAP), round(size * _REDUCING_GAP)))  # JPEG: decode smaller
            _refuse_too_many_pixels(*image.size)
            image.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=_REDUCING_GAP)
            transparent = image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info)
            resized = image.convert("RGBA" if transparent else "RGB")
    except Image.DecompressionBombError as exc:  # Pillow's guard, at twice MAX_IMAGE_PIXELS, fired on open
        raise _too_large(f"more than {2 * (Image.MAX_IMAGE_PIXELS or 0):,} pixels") from exc
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise NotFoundError("The cover file is not a readable image.") from exc
    suffix, mime, fmt = (".png", "image/png", "PNG") if transparent else (".jpg", "image/jpeg", "JPEG")
    target = folder / key[:2] / f"{key}{suffix}"
    _write_atomically(target, lambda out: resized.save(out, fmt, **({"quality": 88} if fmt == "JPEG" else {})))
    return target, mime


def _write_atomically(target: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Write-then-rename: concurrent requests for the same file never see it half-written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".cover-", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            write(out)
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _refuse_too_many_pixels(width: int, height: int) -> None:
    if width * height > int(settings.COVER_MAX_PIXELS):
        raise _too_large(f"{width}x{height} pixels")


def _too_large(what: str) -> CoverTooLargeError:
    limit = int(settings.COVER_MAX_PIXELS)
    return CoverTooLargeError(
        f"The cover image is too large to resize ({what}; at most {limit:,} pixels are resized).",
        details={"max_pixels": limit},
    )
