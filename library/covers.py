"""Cover images: the stored original, or a resized copy cached under MCMA_CACHE_DIR/covers (the only Pillow
importer). Players ask for the same few sizes over and over, so each (file, version, size) is resized once; the
cache key includes the file's mtime and size, so a replaced cover never serves a stale thumbnail."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from django.conf import settings
from PIL import Image, UnidentifiedImageError

from library.storage import media_path
from mcma.errors import NotFoundError

MIN_SIZE = 1
MAX_SIZE = 2048
_MIME_BY_SUFFIX = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}


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


def cover_image(*, relative_path: str, size: int | None) -> tuple[Path, str]:
    """The file to send and its content type. `size` is the longest side in pixels, clamped to 1..2048; None or
    0 means the original. Images are never upscaled. NotFoundError when the file is gone or not an image."""
    source = media_path(relative_path)
    try:
        stat = source.stat()
    except OSError as exc:
        raise NotFoundError("The cover file is missing from storage.") from exc
    if not size:
        return source, _original_mime(source)
    size = max(MIN_SIZE, min(MAX_SIZE, size))
    key = hashlib.sha256(f"{relative_path}\0{stat.st_mtime_ns}\0{stat.st_size}\0{size}".encode()).hexdigest()
    for suffix, mime in ((".jpg", "image/jpeg"), (".png", "image/png")):
        cached = _cache_dir() / key[:2] / f"{key}{suffix}"
        if cached.exists():
            return cached, mime
    return _resize(source, key, size)


def _resize(source: Path, key: str, size: int) -> tuple[Path, str]:
    try:
        with Image.open(source) as image:
            if max(image.size) <= size:
                return source, Image.MIME.get(image.format or "", "application/octet-stream")
            image.thumbnail((size, size), Image.Resampling.LANCZOS)
            transparent = image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info)
            resized = image.convert("RGBA" if transparent else "RGB")
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise NotFoundError("The cover file is not a readable image.") from exc
    suffix, mime, fmt = (".png", "image/png", "PNG") if transparent else (".jpg", "image/jpeg", "JPEG")
    target = _cache_dir() / key[:2] / f"{key}{suffix}"
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write-then-rename: concurrent requests for the same size never see a half-written file.
    handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".cover-", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            resized.save(out, fmt, **({"quality": 88} if fmt == "JPEG" else {}))
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return target, mime
