"""File responses with HTTP Range, HEAD and conditional-request support (Django has none; see RFC 9110 §13-14).

One single byte range is served as 206; several ranges get the whole file as 200 (RFC 9110 lets a server ignore
Range, and refusing multipart bodies removes the overlapping-ranges amplification attack). Invalid or
unsatisfiable ranges get 416 with `Content-Range: bytes */LENGTH`. The body streams in chunks from an open file,
so memory stays flat whatever the file size.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import quote

from django.http import HttpRequest, HttpResponse, HttpResponseNotModified, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils.http import http_date, parse_http_date_safe

from mcma.errors import NotFoundError

CHUNK_SIZE = 64 * 1024
_RANGE_SPEC = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$", re.ASCII)
# More significant digits than this is past the end of any file (10**18 bytes is an exabyte). Checking the length
# first keeps `int()` away from Python's 4,300-digit limit, which a header of 5,000 nines turned into a 500.
_MAX_POSITION_DIGITS = 18
_UNSAFE_FILENAME_CHARS = re.compile(r'[\x00-\x1f\x7f"\\;,/]')


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


class RangeNotSatisfiable(Exception):
    pass


class ClosableChunks(Protocol):
    def __iter__(self) -> Iterator[bytes]: ...
    def __next__(self) -> bytes: ...
    def close(self) -> None: ...


class FollowedChunks(ClosableChunks, Protocol):
    """A growing file's bytes as they arrive (`downloads.relay.ArrivingStream`)."""

    whole: bool  # once iteration ends: whether it reached the last byte, not cut short (a failure, a stop)

    def stop(self) -> None: ...  # ends the iteration at its next wait, from any thread


class GrowingFile(Protocol):
    """A file still being written (`downloads.relay.ArrivingMedia`)."""

    content_type: str
    exact_size: int | None  # the whole length once written, when known

    def available(self) -> int: ...
    def stream(self, start: int = 0, end: int | None = None) -> FollowedChunks: ...
    def close(self) -> None: ...


def range_parse(header: str, size: int) -> ByteRange | None:
    """The single range to serve, or None to serve the whole file. Raises RangeNotSatisfiable for 416.

    A unit other than `bytes` and multi-range requests are ignored (full 200), which RFC 9110 §14.2 allows.
    Positions too large for any file count as "past the end": a first byte there is unsatisfiable, a last byte
    or a suffix length there means "to the end" / "the whole file", as RFC 9110 §14.1.2 says for any length.
    """
    unit, sep, spec = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    parts = spec.split(",")
    if len(parts) > 1:
        return None
    match = _RANGE_SPEC.match(parts[0])
    if match is None:
        raise RangeNotSatisfiable
    first, last = match.groups()
    if first == "" and last == "":
        raise RangeNotSatisfiable
    if first == "":  # suffix range: the last N bytes
        suffix = _position(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable
        return ByteRange(0 if suffix is None else max(size - suffix, 0), size - 1)
    start = _position(first)
    if start is None or start >= size:
        raise RangeNotSatisfiable
    end = _position(last) if last else size - 1
    if end is not None and end < start:
        raise RangeNotSatisfiable
    return ByteRange(start, size - 1 if end is None else min(end, size - 1))


def _position(digits: str) -> int | None:
    """The byte position the ASCII digits spell, or None when it lies beyond the end of any file."""
    significant = digits.lstrip("0") or "0"
    return None if len(significant) > _MAX_POSITION_DIGITS else int(significant)


def content_disposition(filename: str, *, as_attachment: bool) -> str:
    """RFC 6266 header with an ASCII fallback and an RFC 5987 `filename*`, immune to parameter injection."""
    fallback = _UNSAFE_FILENAME_CHARS.sub("_", filename.encode("ascii", "replace").decode("ascii")).strip() or "file"
    disposition = "attachment" if as_attachment else "inline"
    return f"{disposition}; filename=\"{fallback.replace('?', '_')}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _etag(st: os.stat_result) -> str:
    return f'"{st.st_size:x}-{st.st_mtime_ns:x}"'


def _etag_matches(header: str, etag: str, *, weak: bool) -> bool:
    candidates = [tag.strip() for tag in header.split(",")]
    if "*" in candidates:
        return True
    if weak:
        candidates = [tag.removeprefix("W/") for tag in candidates]
    return etag in candidates


def _not_modified(request: HttpRequest, etag: str, mtime: int) -> bool:
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        return _etag_matches(if_none_match, etag, weak=True)
    since = parse_http_date_safe(request.headers.get("If-Modified-Since", ""))
    return since is not None and mtime <= since


def _if_range_allows(request: HttpRequest, etag: str, mtime: int) -> bool:
    """If-Range: honour Range only while the client's copy is current (strong ETag or exact date)."""
    value = request.headers.get("If-Range")
    if value is None:
        return True
    value = value.strip()
    if value.startswith(('"', "W/")):
        return value == etag
    return parse_http_date_safe(value) == mtime


def _chunks(handle: BinaryIO, start: int, length: int) -> Iterator[bytes]:
    with handle:
        handle.seek(start)
        remaining = length
        while remaining > 0:
            chunk = handle.read(min(CHUNK_SIZE, remaining))
            if not chunk:  # the file shrank under us: stop rather than lie past EOF forever
                return
            remaining -= len(chunk)
            yield chunk


def file_response(
    request: HttpRequest,
    *,
    path: Path,
    content_type: str,
    filename: str | None = None,
    as_attachment: bool = False,
) -> HttpResponseBase:
    """Serve `path` for GET/HEAD with Range, ETag, Last-Modified and conditional requests. NotFoundError if absent."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise NotFoundError("The file is missing from storage.") from exc
    try:
        st = os.fstat(handle.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise NotFoundError("The file is missing from storage.")
    except BaseException:
        handle.close()
        raise

    size = st.st_size
    mtime = int(st.st_mtime)
    etag = _etag(st)
    validators = {"ETag": etag, "Last-Modified": http_date(mtime), "Accept-Ranges": "bytes"}

    response: HttpResponseBase
    if _not_modified(request, etag, mtime):
        handle.close()
        response = HttpResponseNotModified()
        for name, value in validators.items():
            response[name] = value
        return response

    byte_range: ByteRange | None = None
    range_header = request.headers.get("Range")
    if range_header and _if_range_allows(request, etag, mtime):
        try:
            byte_range = range_parse(range_header, size)
        except RangeNotSatisfiable:
            handle.close()
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            response["Accept-Ranges"] = "bytes"
            return response

    start, length = (byte_range.start, byte_range.length) if byte_range else (0, size)
    if request.method == "HEAD":
        handle.close()
        response = HttpResponse(status=206 if byte_range else 200, content_type=content_type)
    else:
        response = StreamingHttpResponse(
            _chunks(handle, start, length), status=206 if byte_range else 200, content_type=content_type
        )
    response["Content-Length"] = str(length)
    if byte_range:
        response["Content-Range"] = f"bytes {byte_range.start}-{byte_range.end}/{size}"
    for name, value in validators.items():
        response[name] = value
    if filename is not None or as_attachment:
        response["Content-Disposition"] = content_disposition(filename or path.name, as_attachment=as_attachment)
    return response


def growing_file_response(
    request: HttpRequest, *, media: GrowingFile, filename: str | None = None, as_attachment: bool = False
) -> HttpResponseBase:
    """Serve a file while it is written: its bytes as they arrive, with the whole length as Content-Length when
    known (so a body cut short by a failure is seen as incomplete). A single Range is honoured when its first
    byte has arrived; otherwise, or with the length unknown, the whole stream comes as 200, as RFC 9110 §14.2
    lets a server ignore Range. No validators: these bytes are replaced by the finished file later, so `If-Range`
    never matches (whole stream) and nothing should be cached (`no-store`). `media` is closed with the response."""
    size = media.exact_size
    byte_range: ByteRange | None = None
    range_header = request.headers.get("Range")
    if range_header and size is not None and request.headers.get("If-Range") is None:
        try:
            byte_range = range_parse(range_header, size)
        except RangeNotSatisfiable:
            media.close()
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
        if byte_range is not None and byte_range.start >= media.available():
            byte_range = None  # not here yet: the whole stream instead of a wait of unknown length
    status = 206 if byte_range else 200
    response_out: HttpResponseBase
    if request.method == "HEAD":
        media.close()
        response_out = HttpResponse(status=status, content_type=media.content_type)
    else:
        body = media.stream(byte_range.start, byte_range.end) if byte_range else media.stream()
        response_out = StreamingHttpResponse(body, status=status, content_type=media.content_type)
    if byte_range is not None and size is not None:
        response_out["Content-Length"] = str(byte_range.length)
        response_out["Content-Range"] = f"bytes {byte_range.start}-{byte_range.end}/{size}"
    elif size is not None:
        response_out["Content-Length"] = str(size)
    response_out["Accept-Ranges"] = "bytes" if size is not None else "none"
    response_out["Cache-Control"] = "no-store"
    if filename is not None or as_attachment:
        response_out["Content-Disposition"] = content_disposition(filename or "download", as_attachment=as_attachment)
    return response_out
