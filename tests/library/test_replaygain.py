"""ReplayGain: measured with ffmpeg's ebur128 for songs without tags (a known signal gives a known gain), album
gain over the album's tracks, tagged values kept, and an absurd tag skipped with a reason."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from library import metadata, replaygain
from library.models import Track
from library.tags import read_tags
from tests.audio import AudioMaker
from tests.factories.library import AlbumFactory, TrackFactory

pytestmark = pytest.mark.django_db


def _sine(relative: str, *, peak: float, seconds: float = 4.0, channels: int = 1) -> str:
    """A 1 kHz sine with this linear peak (0.1 = -20 dBFS), as FLAC in MEDIA_ROOT."""
    path = Path(settings.MEDIA_ROOT) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    layout = "|".join([f"{peak}*sin(2*PI*1000*t)"] * channels)
    arguments = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi"]
    arguments += ["-i", f"aevalsrc={layout}:s=44100:d={seconds}", "-c:a", "flac", str(path)]
    subprocess.run(arguments, check=True, timeout=60)
    return relative


def test_a_minus_20_dbfs_sine_measures_its_known_loudness() -> None:
    # BS.1770: a 1 kHz sine at 0 dBFS in one channel is -3.01 LUFS, so at -20 dBFS it is -23.01 LUFS, and
    # ReplayGain 2.0 (reference -18 LUFS) gives +5.01 dB; in both stereo channels it is 3.01 dB louder.
    mono = replaygain.loudness_measure(Path(settings.MEDIA_ROOT) / _sine("a/mono.flac", peak=0.1), duration_ms=4000)
    stereo = replaygain.loudness_measure(
        Path(settings.MEDIA_ROOT) / _sine("a/stereo.flac", peak=0.1, channels=2), duration_ms=4000
    )

    assert mono.integrated_lufs == pytest.approx(-23.01, abs=0.1)
    assert mono.gain_db == pytest.approx(5.01, abs=0.1)
    assert mono.sample_peak == pytest.approx(0.1, rel=0.01)
    assert stereo.gain_db == pytest.approx(2.0, abs=0.1)


def test_album_gain_over_the_tracks_and_tagged_values_kept() -> None:
    album = AlbumFactory.create()
    loud = TrackFactory.create(album=album, path=_sine("b/loud.flac", peak=0.1), duration_ms=4000)
    quiet = TrackFactory.create(album=album, path=_sine("b/quiet.flac", peak=0.01), duration_ms=4000)
    tagged = TrackFactory.create(
        album=album, path=_sine("b/tagged.flac", peak=0.1), duration_ms=4000, replaygain_track_gain=-1.5
    )

    assert replaygain.replaygain_pending_albums() == [album.pk]
    assert replaygain.album_replaygain_analyse(album_id=album.pk) == 3

    loud.refresh_from_db()
    quiet.refresh_from_db()
    tagged.refresh_from_db()
    assert loud.replaygain_track_gain == pytest.approx(5.01, abs=0.1)
    assert quiet.replaygain_track_gain == pytest.approx(25.01, abs=0.1)
    assert quiet.replaygain_track_peak == pytest.approx(0.01, rel=0.02)
    assert tagged.replaygain_track_gain == -1.5  # the tag wins
    # Energy mean of -23, -43 and -23 LUFS over equal durations: -24.74 LUFS, so +6.74 dB; the loudest peak.
    assert [t.replaygain_album_gain for t in (loud, quiet, tagged)] == [pytest.approx(6.74, abs=0.1)] * 3
    assert loud.replaygain_album_peak == pytest.approx(0.1, rel=0.01)
    assert replaygain.replaygain_pending_albums() == []


def test_an_unmeasurable_file_is_skipped_with_a_reason() -> None:
    broken = Path(settings.MEDIA_ROOT) / "c/broken.flac"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"fLaC not really")
    silent = TrackFactory.create(path=_sine("c/silent.flac", peak=0.0))
    track = TrackFactory.create(path="c/broken.flac")

    assert replaygain.album_replaygain_analyse(album_id=track.album_id) == 0
    replaygain.album_replaygain_analyse(album_id=silent.album_id)

    assert "ffmpeg could not measure" in (Track.objects.get(pk=track.pk).metadata_skips or {})["replaygain_analysis"]
    assert "silent" in (Track.objects.get(pk=silent.pk).metadata_skips or {})["replaygain_analysis"]
    assert replaygain.replaygain_pending_albums() == []  # given up on, not retried by every sweep


def test_the_sweep_sends_analysis_only_when_enabled(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    TrackFactory.create()
    sent: list[tuple[str, list[int]]] = []
    monkeypatch.setattr(metadata.current_app, "send_task", lambda name, args: sent.append((name, args)))

    settings.REPLAYGAIN_ANALYSIS = False
    assert metadata.metadata_sweep() == {"lrclib": 0, "replaygain": 0, "caa": 0}
    settings.REPLAYGAIN_ANALYSIS = True
    assert metadata.metadata_sweep()["replaygain"] == 1
    assert sent[0][0] == "library.album_replaygain_analyse"


def test_an_absurd_replaygain_tag_is_ignored_with_a_reason(audio_maker: AudioMaker, tmp_path: Path) -> None:
    path = audio_maker.make(
        tmp_path / "absurd.flac",
        "flac",
        tags={"REPLAYGAIN_TRACK_GAIN": "+300.00 dB", "REPLAYGAIN_ALBUM_GAIN": "loud", "REPLAYGAIN_TRACK_PEAK": "0.9"},
    )

    tags = read_tags(path)

    assert tags.replaygain_track_gain is None
    assert tags.replaygain_album_gain is None
    assert tags.replaygain_track_peak == 0.9
    assert tags.skipped == {
        "replaygain_track_gain": "+300.00 dB is outside ±64 dB, so not a real ReplayGain",
        "replaygain_album_gain": "the tag 'loud' is not a number of dB",
    }
