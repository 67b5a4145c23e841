"""Lyrics: the LRC parser, sidecars found by a scan (and re-read when they change), LYRICS_PRIORITY, LRCLIB
(a hit, no hit, 503, malformed JSON, a slow answer) and what the REST API serves."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from library import lrclib, lyrics
from library.lrc import lrc_parse
from library.models import LyricsKind, Track, TrackLyrics
from sources import services
from tests.audio import AudioMaker
from tests.factories.accounts import UserFactory
from tests.factories.library import TrackFactory
from tests.fakes.lrclib_server import FakeLrclib

pytestmark = pytest.mark.django_db

LRC = """[ti:Something]
[ar:The Beatles]
[offset:+250]
[00:01.00]Something in the way
[00:03.5][01:03.50]she moves
this line has no stamp
[00:02.123] attracts me
[00:99.00]a second that does not exist
"""


def test_lrc_offsets_multiple_stamps_and_bad_lines() -> None:
    parsed = lrc_parse(LRC)

    assert parsed.offset_ms == 250
    assert [(line.start_ms, line.text) for line in parsed.lines] == [
        (1000, "Something in the way"),
        (2123, "attracts me"),
        (3500, "she moves"),
        (63500, "she moves"),
    ]
    assert parsed.skipped_lines == 2  # the unstamped line and the 99th second


def _scan(root: Path) -> None:
    scan = services.scan_enqueue(source_name="local")
    services.scan_run(scan_id=scan.pk)


@pytest.fixture
def root_with_song(music_root: Path, audio_maker: AudioMaker) -> Path:
    audio_maker.make(music_root / "Band" / "01 Song.mp3", "mp3", tags={"title": "Song", "artist": "Band"})
    return music_root


def test_a_sidecar_is_read_at_import_and_again_when_it_changes(root_with_song: Path) -> None:
    sidecar = root_with_song / "Band" / "01 Song.lrc"
    sidecar.write_text("[00:01.00]first words\n")
    _scan(root_with_song)
    track = Track.objects.get()
    assert lyrics.track_lyrics(track).origin == ".lrc"
    assert lyrics.track_lyrics(track).versions[0].lines[0].text == "first words"

    sidecar.write_text("[00:02.00]second words, a longer line\n")
    _scan(root_with_song)

    chosen = lyrics.track_lyrics(Track.objects.get())
    assert [(line.start_ms, line.text) for line in chosen.versions[0].lines] == [(2000, "second words, a longer line")]

    sidecar.unlink()
    _scan(root_with_song)
    assert lyrics.track_lyrics(Track.objects.get()).origin == ""


def test_a_corrupt_lrc_is_skipped_with_a_reason_and_the_txt_is_used(root_with_song: Path) -> None:
    (root_with_song / "Band" / "01 Song.lrc").write_bytes(b"\x00\x01\x02 binary junk")
    (root_with_song / "Band" / "01 Song.txt").write_text("plain words\nsecond line\n")
    _scan(root_with_song)

    track = Track.objects.get()
    assert "binary" in (track.metadata_skips or {})["lyrics.lrc"]
    chosen = lyrics.track_lyrics(track)
    assert chosen.origin == ".txt"
    assert chosen.plain_text == "plain words\nsecond line"


def test_each_skip_reason_survives_the_other_steps_until_its_own_thing_succeeds(
    root_with_song: Path, audio_maker: AudioMaker
) -> None:
    audio = root_with_song / "Band" / "01 Song.mp3"
    lrc = root_with_song / "Band" / "01 Song.lrc"
    lrc.write_bytes(b"\x00 binary junk")
    _scan(root_with_song)
    assert set(Track.objects.get().metadata_skips or {}) == {"lyrics.lrc"}

    # The audio file changes (now with an absurd ReplayGain tag), the corrupt .lrc does not.
    tags = {"title": "Song", "artist": "Band", "REPLAYGAIN_TRACK_GAIN": "+99 dB"}
    audio.write_bytes(audio_maker.make(audio.parent.parent / "new.mp3", "mp3", tags=tags).read_bytes())
    (audio.parent.parent / "new.mp3").unlink()
    os.utime(audio, (audio.stat().st_atime + 10, audio.stat().st_mtime + 10))
    _scan(root_with_song)
    skips = Track.objects.get().metadata_skips or {}
    assert set(skips) == {"lyrics.lrc", "replaygain_track_gain"}

    lrc.write_text("[00:01.00]now it has words\n")  # fixed: only its own reason goes
    os.utime(lrc, (lrc.stat().st_atime + 20, lrc.stat().st_mtime + 20))
    _scan(root_with_song)
    assert set(Track.objects.get().metadata_skips or {}) == {"replaygain_track_gain"}


def test_the_reason_of_a_removed_corrupt_sidecar_goes_with_it(root_with_song: Path) -> None:
    lrc = root_with_song / "Band" / "01 Song.lrc"
    lrc.write_bytes(b"\x00 binary junk")
    _scan(root_with_song)
    lrc.unlink()

    _scan(root_with_song)

    assert Track.objects.get().metadata_skips is None


def test_an_lrc_without_a_timed_line_is_skipped(root_with_song: Path) -> None:
    (root_with_song / "Band" / "01 Song.lrc").write_text("just prose\nno stamps at all\n")
    _scan(root_with_song)

    assert "no timed line (2 lines not understood)" in (Track.objects.get().metadata_skips or {})["lyrics.lrc"]


def test_lyrics_priority_decides_between_sources(settings: Any) -> None:
    track = TrackFactory.create(lyrics="embedded words")
    TrackLyrics.objects.create(track=track, kind=LyricsKind.LRCLIB, text="[00:01.00]lrclib words", synced=True)

    assert lyrics.track_lyrics(track).origin == "embedded"
    settings.LYRICS_PRIORITY = ("lrclib", "embedded")
    assert lyrics.track_lyrics(track).origin == "lrclib"


def test_lrclib_hit_is_stored_synced(fake_lrclib: FakeLrclib) -> None:
    track = TrackFactory.create(title="Song", album__album_artist__name="Band", duration_ms=181_400)
    fake_lrclib.songs[("Band", "Song")] = {"plainLyrics": "words", "syncedLyrics": "[00:01.00]words"}

    assert lyrics.lrclib_pending() == [track.pk]
    assert lyrics.lrclib_fetch(track_id=track.pk) is True

    query = fake_lrclib.queries[-1]
    assert (query["artist_name"], query["track_name"], query["duration"]) == ("Band", "Song", "181")
    chosen = lyrics.track_lyrics(track)
    assert (chosen.origin, chosen.versions[0].synced) == ("lrclib", True)
    assert lyrics.lrclib_pending() == []


def test_lrclib_no_hit_is_remembered(fake_lrclib: FakeLrclib) -> None:
    track = TrackFactory.create()

    assert lyrics.lrclib_fetch(track_id=track.pk) is False

    assert TrackLyrics.objects.get(track=track, kind=LyricsKind.LRCLIB).text == ""
    assert lyrics.lrclib_pending() == []  # not asked again
    assert lyrics.track_lyrics(track).origin == ""


@pytest.mark.parametrize("mode", ["down", "malformed", "slow"])
def test_lrclib_unavailable_stores_nothing_so_the_sweep_asks_again(fake_lrclib: FakeLrclib, mode: Any) -> None:
    track = TrackFactory.create()
    fake_lrclib.mode = mode

    with pytest.raises(lrclib.LrclibUnavailableError):
        lyrics.lrclib_fetch(track_id=track.pk)

    assert not TrackLyrics.objects.filter(track=track).exists()
    assert lyrics.lrclib_pending() == [track.pk]


def test_rest_lyrics(api_client_for: Any) -> None:
    track = TrackFactory.create(synced_lyrics="[offset:-100]\n[00:01.50]hello", lyrics="hello")

    body = api_client_for(UserFactory.create()).get(f"/api/v1/tracks/{track.pk}/lyrics").json()

    assert body["origin"] == "embedded"
    synced, plain = body["versions"]
    assert synced == {"synced": True, "offset_ms": -100, "lines": [{"start_ms": 1500, "text": "hello"}]}
    assert plain == {"synced": False, "offset_ms": 0, "lines": [{"start_ms": None, "text": "hello"}]}


def test_an_unchanged_sidecar_is_not_read_again(tmp_path: Path) -> None:
    track = TrackFactory.create(source="local", source_id="Band/01.mp3")
    lrc = tmp_path / "01.lrc"
    lrc.write_text("[00:01.00]words\n")
    found = [(track.source_id, [lyrics.Sidecar(path=lrc, mtime_ns=lrc.stat().st_mtime_ns, size=lrc.stat().st_size)])]

    assert lyrics.sidecars_sync(source="local", found=found) == 1
    assert lyrics.sidecars_sync(source="local", found=found) == 0
