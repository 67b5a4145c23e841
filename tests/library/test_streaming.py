"""library.streaming: Range (RFC 9110 §14), HEAD, validators and conditional requests, chunked bodies."""

from __future__ import annotations

import os
from email.message import Message
from email.utils import collapse_rfc2231_value
from pathlib import Path

import pytest
from django.http import HttpRequest
from django.test import RequestFactory
from django.utils.http import http_date
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from library.streaming import ByteRange, RangeNotSatisfiable, content_disposition, file_response, range_parse
from mcma.errors import NotFoundError

SIZE = 1000
DATA = bytes(range(256)) * 3 + bytes(range(232))


@pytest.fixture
def audio_file(tmp_path: Path) -> Path:
    path = tmp_path / "song.mp3"
    path.write_bytes(DATA)
    assert path.stat().st_size == SIZE
    return path


def request(method: str = "GET", **headers: str) -> HttpRequest:
    meta = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    return RequestFactory().generic(method, "/file", **meta)  # type: ignore[arg-type]


def body(response: object) -> bytes:
    return b"".join(response.streaming_content)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-", ByteRange(0, SIZE - 1)),
        ("bytes=0-0", ByteRange(0, 0)),
        ("bytes=-500", ByteRange(500, SIZE - 1)),
        ("bytes=-5000", ByteRange(0, SIZE - 1)),
        ("bytes=100-199", ByteRange(100, 199)),
        ("bytes=900-5000", ByteRange(900, SIZE - 1)),
        ("bytes= 10 - 20 ", ByteRange(10, 20)),
        ("BYTES=1-2", ByteRange(1, 2)),
        ("bytes=0-1,5-6", None),
        ("items=0-1", None),
        ("garbage", None),
    ],
)
def test_range_parse(header: str, expected: ByteRange | None) -> None:
    assert range_parse(header, SIZE) == expected


@pytest.mark.parametrize(
    "header", ["bytes=500-499", "bytes=1000-", "bytes=5000-6000", "bytes=-0", "bytes=-", "bytes=a-b"]
)
def test_range_parse_unsatisfiable(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        range_parse(header, SIZE)


HUGE = "9" * 5000  # past Python's 4,300-digit int() limit


@pytest.mark.security
@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"bytes=0-{HUGE}", ByteRange(0, SIZE - 1)),  # a last byte past the end means "to the end"
        (f"bytes=-{HUGE}", ByteRange(0, SIZE - 1)),  # a suffix longer than the file is the whole file
        (f"bytes={'0' * 5000}5-{'0' * 5000}9", ByteRange(5, 9)),  # leading zeros are still small numbers
        ("bytes=0-999999999999999999", ByteRange(0, SIZE - 1)),
    ],
)
def test_range_parse_of_huge_numbers_is_bounded(header: str, expected: ByteRange) -> None:
    assert range_parse(header, SIZE) == expected


@pytest.mark.security
@pytest.mark.parametrize(
    "header",
    [
        f"bytes={HUGE}-",
        f"bytes={HUGE}-{HUGE}",
        f"bytes={HUGE}-5",
        "bytes=1000000000000000000-",
        "bytes=--5",
        "bytes=-5-9",
        "bytes=5--9",
        "bytes=9-5",
        "bytes=\u0661-\u0662",  # Arabic-Indic digits: int() would read them, HTTP does not
        "bytes=+5-9",
    ],
)
def test_range_parse_of_absurd_ranges_is_unsatisfiable(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        range_parse(header, SIZE)


@pytest.mark.security
@hypothesis_settings(max_examples=300, deadline=None)
@given(header=st.text(alphabet=st.sampled_from("bytes=0123456789-, \t9"), max_size=60), size=st.integers(0, 10**6))
def test_range_parse_answers_every_header_within_the_file(header: str, size: int) -> None:
    """For any header: ignore it (None), refuse it (416), or a range inside [0, size)."""
    try:
        result = range_parse(header, size)
    except RangeNotSatisfiable:
        return
    if result is not None:
        assert 0 <= result.start <= result.end < size


def test_any_range_of_an_empty_file_is_unsatisfiable() -> None:
    with pytest.raises(RangeNotSatisfiable):
        range_parse("bytes=0-", 0)


def test_full_get(audio_file: Path) -> None:
    response = file_response(request(), path=audio_file, content_type="audio/mpeg")
    assert response.status_code == 200
    assert response["Content-Length"] == str(SIZE)
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Type"] == "audio/mpeg"
    assert response["ETag"].startswith('"')
    assert response["Last-Modified"]
    assert body(response) == DATA


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=0-", 0, SIZE - 1), ("bytes=-500", 500, SIZE - 1), ("bytes=10-19", 10, 19), ("bytes=990-2000", 990, 999)],
)
def test_partial_get(audio_file: Path, header: str, start: int, end: int) -> None:
    response = file_response(request(Range=header), path=audio_file, content_type="audio/mpeg")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {start}-{end}/{SIZE}"
    assert response["Content-Length"] == str(end - start + 1)
    assert body(response) == DATA[start : end + 1]


@pytest.mark.parametrize("header", ["bytes=500-499", "bytes=1000-", "bytes=99999-", "bytes=-0"])
def test_unsatisfiable_range_is_416(audio_file: Path, header: str) -> None:
    response = file_response(request(Range=header), path=audio_file, content_type="audio/mpeg")
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{SIZE}"


def test_multiple_ranges_get_the_whole_file(audio_file: Path) -> None:
    response = file_response(request(Range="bytes=0-9,20-29,0-999"), path=audio_file, content_type="audio/mpeg")
    assert response.status_code == 200
    assert body(response) == DATA


def test_head_has_headers_and_no_body(audio_file: Path) -> None:
    response = file_response(request("HEAD"), path=audio_file, content_type="audio/mpeg")
    assert response.status_code == 200
    assert response["Content-Length"] == str(SIZE)
    assert response.content == b""  # type: ignore[attr-defined]
    partial = file_response(request("HEAD", Range="bytes=-10"), path=audio_file, content_type="audio/mpeg")
    assert partial.status_code == 206
    assert partial["Content-Length"] == "10"
    assert partial["Content-Range"] == f"bytes 990-999/{SIZE}"


def test_if_none_match_and_if_modified_since_give_304(audio_file: Path) -> None:
    etag = file_response(request("HEAD"), path=audio_file, content_type="audio/mpeg")["ETag"]
    assert file_response(request(If_None_Match=etag), path=audio_file, content_type="x").status_code == 304
    assert file_response(request(If_None_Match=f"W/{etag}"), path=audio_file, content_type="x").status_code == 304
    assert file_response(request(If_None_Match='"other"'), path=audio_file, content_type="x").status_code == 200
    mtime = int(audio_file.stat().st_mtime)
    since = http_date(mtime + 10)
    assert file_response(request(If_Modified_Since=since), path=audio_file, content_type="x").status_code == 304
    older = http_date(mtime - 10)
    assert file_response(request(If_Modified_Since=older), path=audio_file, content_type="x").status_code == 200


def test_if_range_honours_range_only_for_the_current_version(audio_file: Path) -> None:
    etag = file_response(request("HEAD"), path=audio_file, content_type="x")["ETag"]
    current = file_response(request(Range="bytes=0-9", If_Range=etag), path=audio_file, content_type="x")
    assert current.status_code == 206
    stale = file_response(request(Range="bytes=0-9", If_Range='"stale"'), path=audio_file, content_type="x")
    assert stale.status_code == 200
    assert body(stale) == DATA
    os.utime(audio_file, (1_000_000_000, 1_000_000_000))
    dated = file_response(
        request(Range="bytes=0-9", If_Range=http_date(1_000_000_000)), path=audio_file, content_type="x"
    )
    assert dated.status_code == 206


def test_missing_file_or_directory_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        file_response(request(), path=tmp_path / "nope.mp3", content_type="x")
    with pytest.raises(NotFoundError):
        file_response(request(), path=tmp_path, content_type="x")


def test_large_file_streams_in_chunks(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(b"\x01" * (5 * 64 * 1024 + 7))
    response = file_response(request(), path=path, content_type="application/octet-stream")
    chunks = list(response.streaming_content)  # type: ignore[attr-defined]
    assert len(chunks) == 6
    assert max(len(c) for c in chunks) == 64 * 1024


@pytest.mark.parametrize(
    "name",
    ['party"; filename="evil.html', "a\r\nSet-Cookie: x=1", "Beyoncé — Déjà Vu.flac", "..\\..\\etc/passwd", ";,"],
)
def test_content_disposition_resists_parameter_injection(name: str, audio_file: Path) -> None:
    header = content_disposition(name, as_attachment=True)
    assert header.startswith('attachment; filename="')
    fallback = header.split('filename="', 1)[1].split('"', 1)[0]
    assert not any(ch in fallback for ch in '"\\;\r\n/')
    assert "\r" not in header
    assert "\n" not in header
    parsed = Message()
    parsed["Content-Disposition"] = header
    params = parsed.get_params(header="content-disposition")
    assert params is not None
    assert len(params) == 3  # the disposition, the fallback and filename* (RFC 2231-decoded): nothing injected
    extended = [value for _, value in params if isinstance(value, tuple)]
    assert len(extended) == 1
    assert collapse_rfc2231_value(extended[0]) == name  # the RFC 5987 value round-trips exactly
    response = file_response(request(), path=audio_file, content_type="x", filename=name, as_attachment=True)
    assert response["Content-Disposition"] == header
