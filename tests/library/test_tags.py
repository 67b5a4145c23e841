"""library.tags: every supported format read from real ffmpeg-made files, written back, and bad files refused."""

from __future__ import annotations

import os
from pathlib import Path

import mutagen
import pytest
from mutagen.ogg import OggPage

from library import tags
from library.tags import AUDIO_SUFFIXES, TrackTags, UnreadableAudioError, image_mime, read_tags, write_tags
from tests.audio import FORMATS, AudioMaker

TAGS = {
    "title": "Song for Zoë",
    "artist": "Band feat. Guest",
    "album": "Record",
    "album_artist": "Band",
    "track": "3/12",
    "disc": "2/2",
    "date": "2001-05-04",
    "genre": "Rock",
    "compilation": "1",
    "comment": "hello",
}
# codec, content type, lossless
EXPECTED = {
    "mp3": ("mp3", "audio/mpeg", False),
    "flac": ("flac", "audio/flac", True),
    "hires.flac": ("flac", "audio/flac", True),
    "ogg": ("vorbis", "audio/ogg", False),
    "opus": ("opus", "audio/ogg", False),
    "m4a": ("aac", "audio/mp4", False),
    "alac.m4a": ("alac", "audio/mp4", True),
    "wav": ("pcm", "audio/wav", True),
    "aiff": ("pcm", "audio/aiff", True),
    "wma": ("wma", "audio/x-ms-wma", False),
    "wv": ("wavpack", "audio/x-wavpack", True),
}
# Test formats made at another rate, width and channel count than the rest: (Hz, channels, bits).
HIRES = {"hires.flac": (96000, 2, 24)}
# RIFF INFO, the only tags ffmpeg writes into WAV, has no album artist, disc or compilation field.
RIFF_LIMITS = {"wav"}

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"
    b"\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82"
)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"


def test_every_test_format_is_an_import_suffix() -> None:
    assert {fmt.split(".")[-1] for fmt in FORMATS} <= AUDIO_SUFFIXES


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_read_tags_of_every_format(fmt: str, audio_maker: AudioMaker, tmp_path: Path) -> None:
    path = audio_maker.make(tmp_path / f"song.{fmt}", fmt, tags=TAGS)

    tags = read_tags(path)

    codec, content_type, lossless = EXPECTED[fmt]
    assert tags.title == "Song for Zoë"
    assert list(tags.artists) == ["Band", "Guest"]
    assert list(tags.featured_artists) == ["Guest"]
    assert tags.artist == "Band"
    assert tags.artist_display == "Band feat. Guest"
    assert tags.album == "Record"
    assert (tags.track_number, tags.track_total) == (3, 12)
    assert (tags.year, tags.date) == (2001, "2001-05-04")
    assert list(tags.genres) == ["Rock"]
    assert tags.comment == "hello"
    if fmt not in RIFF_LIMITS:
        assert tags.album_artist == "Band"
        assert (tags.disc_number, tags.disc_total) == (2, 2)
        assert tags.compilation is True
    assert 900 <= tags.duration_ms <= 1200
    assert (tags.codec, tags.content_type) == (codec, content_type)
    assert tags.suffix == fmt.split(".")[-1]
    if fmt in HIRES:
        assert (tags.sample_rate, tags.channels, tags.bit_depth) == HIRES[fmt]
    else:
        assert tags.sample_rate == (48000 if fmt == "opus" else 44100)
        assert tags.channels == (2 if fmt == "m4a" else 1)  # the AAC sample entry always says stereo
        assert tags.bit_depth == (16 if lossless else None)
    assert tags.bitrate > 0
    assert tags.cover is None
    # The importer parses the bytes it has already read for hashing: same reading, every format.
    assert read_tags(path, data=path.read_bytes()) == tags
    assert not tags.has_cover


def test_untagged_file_takes_its_title_from_the_file_name(audio_maker: AudioMaker, tmp_path: Path) -> None:
    tags = read_tags(audio_maker.make(tmp_path / "07 Untitled Jam.flac", "flac"))

    assert tags.title == "07 Untitled Jam"
    assert list(tags.artists) == []
    assert tags.album == ""
    assert tags.track_number is None


def test_multi_valued_artists_and_featured_spellings(audio_maker: AudioMaker, tmp_path: Path) -> None:
    for spelling in (" ft. ", " featuring ", " Feat "):
        tags = read_tags(
            audio_maker.make(tmp_path / "a.flac", "flac", tags={"artist": f"Salt & Vinegar{spelling}AC/DX"})
        )
        assert list(tags.artists) == ["Salt & Vinegar", "AC/DX"], spelling

    path = audio_maker.make(tmp_path / "b.flac", "flac")
    write_tags(path, TrackTags(title="Duet", artists=("Ana", "Bo")), cover=None, cover_mime=None)
    tags = read_tags(path)
    assert list(tags.artists) == ["Ana", "Bo"]
    assert list(tags.featured_artists) == ["Bo"]


def test_odd_numbers_and_dates_are_ignored_not_fatal(audio_maker: AudioMaker, tmp_path: Path) -> None:
    path = audio_maker.make(
        tmp_path / "odd.ogg", "ogg", tags={"track": "x/y", "disc": "0", "date": "sometime", "genre": "(17)"}
    )

    tags = read_tags(path)

    assert tags.track_number is None
    assert tags.disc_number is None
    assert tags.year is None
    assert tags.date == ""
    assert list(tags.genres) == []


WRITABLE = ["mp3", "flac", "ogg", "opus", "m4a", "alac.m4a", "aiff", "wv", "wma", "wav"]


@pytest.mark.parametrize("fmt", WRITABLE)
def test_write_tags_round_trips(fmt: str, audio_maker: AudioMaker, tmp_path: Path) -> None:
    path = audio_maker.make(tmp_path / f"w.{fmt}", fmt)
    wanted = TrackTags(
        title="Written",
        artists=("Main", "Guest"),
        featured_artists=("Guest",),
        artist_display="Main feat. Guest",
        album="Album",
        album_artist="Main",
        track_number=4,
        track_total=9,
        disc_number=1,
        disc_total=2,
        date="1999-12-31",
        genres=("Jazz", "Funk"),
        musicbrainz_recording_id="7e98d74e-9713-5d87-b4cc-34ec6fd98ee2",
        musicbrainz_release_id="a5b4a59c-3aeb-5fac-b520-3bd1476011e1",
        replaygain_track_gain=-7.5,
        lyrics="la la la",
        compilation=False,
    )
    cover = None if fmt in {"wma", "wav"} else PNG

    write_tags(path, wanted, cover=cover, cover_mime="image/png" if cover else None)
    got = read_tags(path)

    assert got.title == "Written"
    assert list(got.artists) == ["Main", "Guest"]
    assert got.album == "Album"
    assert got.album_artist == "Main"
    assert (got.track_number, got.disc_number) == (4, 1)
    assert got.year == 1999
    assert list(got.genres) == ["Jazz", "Funk"]
    assert got.musicbrainz_recording_id == wanted.musicbrainz_recording_id
    assert got.musicbrainz_release_id == wanted.musicbrainz_release_id
    assert got.replaygain_track_gain == pytest.approx(-7.5)
    assert got.lyrics == "la la la"
    if cover:
        assert got.cover == PNG
        assert got.cover_mime == "image/png"


def test_synced_lyrics_and_r128_gain(audio_maker: AudioMaker, tmp_path: Path) -> None:
    lrc = "[ti:Song]\n[00:01.00]first line\n[00:02.50]second line"
    path = audio_maker.make(
        tmp_path / "s.opus", "opus", tags={"lyrics": lrc, "R128_TRACK_GAIN": "-1792", "R128_ALBUM_GAIN": "0"}
    )

    tags = read_tags(path)

    assert tags.synced_lyrics == lrc
    assert tags.lyrics == "first line\nsecond line"
    assert tags.replaygain_track_gain == pytest.approx(-2.0)  # -1792/256 + 5
    assert tags.replaygain_album_gain == pytest.approx(5.0)


def _set_opus_output_gain(path: Path, q78: int) -> None:
    """Rewrite the OpusHead output gain (bytes 16-17, Q7.8 dB) of the file's first page, with a fresh CRC."""
    with path.open("r+b") as file:
        page = OggPage(file)
        head = page.packets[0]
        page.packets[0] = head[:16] + q78.to_bytes(2, "little", signed=True) + head[18:]
        file.seek(0)
        file.write(page.write())


def test_opus_output_gain_is_the_base_gain_and_other_formats_have_none(audio_maker: AudioMaker, tmp_path: Path) -> None:
    path = audio_maker.make(tmp_path / "g.opus", "opus", tags={"R128_TRACK_GAIN": "-1792"})
    assert read_tags(path).replaygain_base_gain == 0.0  # ffmpeg writes no output gain: known, and zero
    _set_opus_output_gain(path, -768)

    got = read_tags(path)

    assert got.replaygain_base_gain == pytest.approx(-3.0)
    assert got.replaygain_track_gain == pytest.approx(-2.0)  # R128 gains stay relative to the output gain
    assert read_tags(audio_maker.make(tmp_path / "g.ogg", "ogg")).replaygain_base_gain is None


def test_embedded_cover_from_mp3_and_flac(audio_maker: AudioMaker, tmp_path: Path) -> None:
    for fmt in ("mp3", "flac", "m4a", "ogg"):
        path = audio_maker.make(tmp_path / f"c.{fmt}", fmt)
        write_tags(path, TrackTags(title="c"), cover=JPEG, cover_mime="image/jpeg")
        tags = read_tags(path)
        assert (tags.cover, tags.cover_mime, tags.has_cover) == (JPEG, "image/jpeg", True), fmt
        assert tags.without_cover().cover is None
        assert tags.without_cover().has_cover


def test_image_mime_sniffs_magic_bytes() -> None:
    assert image_mime(PNG) == "image/png"
    assert image_mime(JPEG) == "image/jpeg"
    assert image_mime(b"GIF89a....") == "image/gif"
    assert image_mime(b"not an image") == ""


def _truncated(src: Path, dest: Path, keep: int) -> Path:
    dest.write_bytes(src.read_bytes()[:keep])
    return dest


@pytest.mark.parametrize(
    ("name", "maker", "message"),
    [
        ("empty.mp3", lambda d, a: (d / "empty.mp3").write_bytes(b""), "empty"),
        ("text.mp3", lambda d, a: (d / "text.mp3").write_text("this is not music\n" * 20), "not readable"),
        ("noise.flac", lambda d, a: (d / "noise.flac").write_bytes(os.urandom(4096)), None),
        ("notes.txt", lambda d, a: (d / "notes.txt").write_text("hello"), "not an audio format"),
        (
            "cut.flac",
            lambda d, a: _truncated(a.make(d / "full.flac", "flac", tags={"title": "x" * 9000}), d / "cut.flac", 200),
            "truncated",
        ),
        ("cut.m4a", lambda d, a: _truncated(a.make(d / "full.m4a", "m4a"), d / "cut.m4a", 64), None),
        ("cut.ogg", lambda d, a: _truncated(a.make(d / "full.ogg", "ogg"), d / "cut.ogg", 100), None),
    ],
)
def test_bad_files_raise_unreadable_audio(
    name: str, maker: object, message: str | None, audio_maker: AudioMaker, tmp_path: Path
) -> None:
    maker(tmp_path, audio_maker)  # type: ignore[operator]

    with pytest.raises(UnreadableAudioError, match=message):
        read_tags(tmp_path / name)


def test_missing_and_unreadable_paths(tmp_path: Path) -> None:
    with pytest.raises(UnreadableAudioError, match="cannot read"):
        read_tags(tmp_path / "nope.mp3")
    with pytest.raises(UnreadableAudioError):
        read_tags(tmp_path)  # a folder


def test_write_tags_refuses_non_audio(tmp_path: Path) -> None:
    path = tmp_path / "x.mp3"
    path.write_text("nope")

    with pytest.raises(UnreadableAudioError):
        write_tags(path, TrackTags(title="x"), cover=None, cover_mime=None)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_read_tags_opens_each_format_with_the_class_mutagen_file_picks(
    fmt: str, audio_maker: AudioMaker, tmp_path: Path
) -> None:
    """read_tags opens common formats directly when suffix and header agree, and leaves the rest to mutagen.File:
    the same class as mutagen.File's choice."""
    path = audio_maker.make(tmp_path / f"a.{fmt}", fmt, tags={"title": "T"})
    unnamed = tmp_path / "no-suffix"  # only the bytes can tell the formats apart
    unnamed.write_bytes(path.read_bytes())

    for candidate in (path, unnamed):
        chosen = type(mutagen.File(candidate))
        assert type(tags._open_audio(candidate, candidate.read_bytes())) is chosen
        assert type(tags._open_audio(candidate, None)) is chosen


@pytest.mark.parametrize(
    ("fmt", "key"),
    [
        ("mp3", "TXXX:MusicBrainz Album Id"),
        ("m4a", "----:com.apple.iTunes:MusicBrainz Album Id"),
        ("wma", "MusicBrainz/Album Id"),
        ("wv", "MUSICBRAINZ_ALBUMID"),
    ],
)
def test_written_keys_are_spelled_as_other_taggers_spell_them(
    fmt: str, key: str, audio_maker: AudioMaker, tmp_path: Path
) -> None:
    path = audio_maker.make(tmp_path / f"a.{fmt}", fmt)
    release = "11111111-2222-3333-4444-555555555555"

    write_tags(path, TrackTags(title="T", musicbrainz_release_id=release), cover=None, cover_mime=None)

    audio = mutagen.File(path)
    assert key in audio.tags
    assert read_tags(path).musicbrainz_release_id == release


# -- control characters: cleaned at the door, whatever the format ------------------------------------------------
@pytest.mark.security
@pytest.mark.parametrize("fmt", ["flac", "ogg", "opus", "m4a", "wv"])
def test_nul_and_other_controls_never_leave_read_tags(fmt: str, audio_maker: AudioMaker, tmp_path: Path) -> None:
    path = audio_maker.make(tmp_path / f"song.{fmt.split('.')[-1]}", fmt)
    hostile = TrackTags(
        title="Title\x00",  # C-string writers leave the terminator in
        artists=("The\x1bBand",),
        album="Al\x01bum\nTwo",
        genres=("Rock\x00Pop",),
        comment="one\r\n\ttwo\x07",
        lyrics="verse\x00chorus",
    )
    write_tags(path, hostile, cover=None, cover_mime=None)

    read = read_tags(path)

    assert (read.title, read.artists, read.artist_display) == ("Title", ("TheBand",), "TheBand")
    assert read.album == "Album Two"  # a line break in a one-line field becomes a space
    assert read.genres == ("Rock", "Pop")  # NUL separates values, as in ID3v2.4
    assert read.comment == "one\r\n\ttwo"  # multi-line fields keep their line breaks and tabs
    assert read.lyrics == "verse\nchorus"


@pytest.mark.security
def test_id3_frames_with_controls_are_cleaned(audio_maker: AudioMaker, tmp_path: Path) -> None:
    path = audio_maker.make(tmp_path / "song.mp3", "mp3")
    audio = mutagen.File(path)
    audio.tags.add(mutagen.id3.TIT2(encoding=3, text=["Bad\x01Title\x1f"]))
    audio.tags.add(mutagen.id3.TPE1(encoding=3, text=["Art\x0bist"]))
    audio.save()

    read = read_tags(path)

    assert (read.title, read.artist) == ("BadTitle", "Art ist")


@pytest.mark.security
def test_a_control_character_in_the_file_name_is_not_the_title(audio_maker: AudioMaker, tmp_path: Path) -> None:
    path = audio_maker.make(tmp_path / "odd\x1bname.flac", "flac")

    assert read_tags(path).title == "oddname"


@pytest.mark.security
@pytest.mark.parametrize(("declared", "kept"), [("image/pn\x00g", "image/jpeg"), ("image/avif", "image/avif")])
def test_a_declared_cover_type_is_kept_only_when_it_is_one(
    declared: str, kept: str, audio_maker: AudioMaker, tmp_path: Path
) -> None:
    path = audio_maker.make(tmp_path / "song.flac", "flac")
    write_tags(path, TrackTags(title="x"), cover=b"\x00\x01 no magic bytes", cover_mime=declared)

    assert read_tags(path).cover_mime == kept
