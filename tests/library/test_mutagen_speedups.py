"""library.mutagen_speedups: the same answers (and the same errors) as mutagen's own helper, installed in its place."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mutagen import _util
from mutagen.id3 import ID3, TIT2, TPE1, TXXX, _specs

from library import mutagen_speedups
from library.tags import read_tags
from tests.audio import AudioMaker

ENCODINGS = ["utf-16", "utf-16-le", "utf-16-be", "UTF16", "latin-1", "utf-8"]


def outcome(data: bytes, encoding: str, strict: bool, decode: object) -> tuple[str, object]:
    try:
        return "ok", decode(data, encoding, strict)  # type: ignore[operator]
    except Exception as exc:
        return "raised", type(exc)


def assert_same(data: bytes, encoding: str) -> None:
    for strict in (True, False):
        ours = outcome(data, encoding, strict, mutagen_speedups.decode_terminated)
        theirs = outcome(data, encoding, strict, _util.decode_terminated)
        assert ours == theirs, (data, encoding, strict)


def test_installed_where_mutagen_id3_reads_text() -> None:
    # A mutagen upgrade that moves the helper must fail here, not silently slow every scan down again.
    assert _specs.decode_terminated is mutagen_speedups.decode_terminated
    assert mutagen_speedups.install()  # idempotent


@given(
    texts=st.lists(st.text(max_size=12), min_size=1, max_size=3),
    encoding=st.sampled_from(["utf-16", "utf-16-le", "utf-16-be"]),
    tail=st.binary(max_size=6),
)
def test_terminated_text_matches_mutagen(texts: list[str], encoding: str, tail: bytes) -> None:
    """Well-formed frames: texts (any code point, surrogate pairs included; "utf-16" with its BOM) each ending
    in a NUL, then whatever follows."""
    data = b"".join(text.encode(encoding) + b"\x00\x00" for text in texts)
    assert_same(data + tail, encoding)


@given(data=st.binary(max_size=24), encoding=st.sampled_from(ENCODINGS))
def test_any_bytes_give_the_same_result_or_error(data: bytes, encoding: str) -> None:
    assert_same(data, encoding)


@given(bom=st.sampled_from([b"\xff\xfe", b"\xfe\xff"]), data=st.binary(max_size=24))
def test_bytes_after_a_bom_give_the_same_result_or_error(bom: bytes, data: bytes) -> None:
    assert_same(bom + data, "utf-16")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00",
        b"\x00\x00",
        b"\xff\xfe",  # a BOM alone: no terminator
        b"A\x00B\x00\x00\x00",  # no BOM: "utf-16" refuses it
        b"\xff\xfe\x00\x00rest",
        b"\xfe\xff\x00A\x00\x00",  # big-endian BOM
        b"A\x00\x00\x01\x00\x00",  # "AĀ": the zero bytes at an odd offset end nothing
        b"A\x00\x00",  # odd length: truncated
        b"=\xd8\x00\x00",  # a lone high surrogate before the terminator
        b"=\xd8\x00\xde\x00\x00tail",  # a surrogate pair
        b"\x00\xdc\x00\x00",  # a lone low surrogate
    ],
)
def test_edge_cases_match_mutagen(data: bytes) -> None:
    for encoding in ENCODINGS:
        assert_same(data, encoding)


def test_utf16_id3v23_tags_read_through_the_fast_path(audio_maker: AudioMaker, tmp_path: Path) -> None:
    path = audio_maker.make(tmp_path / "a.mp3", "mp3")
    id3 = ID3()
    id3.add(TIT2(encoding=1, text=["Zoë 🎵 Ünïcode"]))
    id3.add(TPE1(encoding=1, text=["Björk"]))
    id3.add(TXXX(encoding=1, desc="MusicBrainz Album Id", text=["0b2a8f7e-6a0c-4f5e-9f4d-0f3c1b2a3d4e"]))
    id3.save(path, v2_version=3)

    tags = read_tags(path)

    assert tags.title == "Zoë 🎵 Ünïcode"
    assert tags.artists == ("Björk",)
    assert tags.musicbrainz_release_id == "0b2a8f7e-6a0c-4f5e-9f4d-0f3c1b2a3d4e"
