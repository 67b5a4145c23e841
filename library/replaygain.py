"""ReplayGain measured for songs whose tags carry none: ffmpeg's `ebur128` filter (EBU R128 / ITU-R BS.1770
loudness), turned into ReplayGain 2.0 values (reference -18 LUFS) in a Celery task, never during a request.

Track gain is -18 - the track's integrated loudness; the peak is the sample peak as a linear ratio (1.0 = full
scale), as ReplayGain tags write it. Album loudness is the duration-weighted energy mean of its tracks' integrated
loudness: one decode per track instead of a second pass over the whole album, within a few tenths of a dB of a
gated measurement of the concatenation for real albums (the gate differs slightly at quiet passages).
"""

from __future__ import annotations

import logging
import math
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from django.db.models import Q

from library.models import Track
from library.skips import track_skip_set
from library.storage import UnsafePathError, media_path
from library.transcoding import ffmpeg_path

logger = logging.getLogger(__name__)

REFERENCE_LUFS = -18.0
# ebur128 reports -70 LUFS (its absolute gate) for silence: no gain can be derived from it.
SILENCE_LUFS = -70.0
SKIP_KEY = "replaygain_analysis"
# A song this long decodes in a few seconds; anything slower is a stuck ffmpeg.
MEASURE_TIMEOUT_SECONDS = 600
PENDING_BATCH = 20

_INTEGRATED = re.compile(r"^\s*I:\s*(-?\d+(?:\.\d+)?|-inf)\s*LUFS", re.MULTILINE)
_PEAK = re.compile(r"^\s*Peak:\s*(-?\d+(?:\.\d+)?|-inf)\s*dBFS", re.MULTILINE)


class LoudnessError(Exception):
    """The file could not be measured (ffmpeg missing or failing, silence); the message says why."""


@dataclass(frozen=True)
class Loudness:
    integrated_lufs: float
    sample_peak: float  # linear, 1.0 = full scale
    duration_ms: int

    @property
    def gain_db(self) -> float:
        return round(REFERENCE_LUFS - self.integrated_lufs, 2)


def loudness_measure(path: Path, *, duration_ms: int) -> Loudness:
    """The integrated loudness and sample peak of the audio file at `path`."""
    executable = ffmpeg_path()
    if executable is None:
        raise LoudnessError("ffmpeg is not installed")
    arguments = [executable, "-nostdin", "-hide_banner", "-nostats", "-i", str(path)]
    arguments += ["-vn", "-map", "0:a:0", "-af", "ebur128=peak=sample", "-f", "null", "-"]
    try:
        done = subprocess.run(arguments, capture_output=True, timeout=MEASURE_TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired as exc:
        raise LoudnessError(f"ffmpeg took more than {MEASURE_TIMEOUT_SECONDS} s") from exc
    output = done.stderr.decode("utf-8", "replace")
    summary = output[output.rfind("Summary:") :] if "Summary:" in output else ""
    integrated, peak = _INTEGRATED.search(summary), _PEAK.search(summary)
    if done.returncode != 0 or integrated is None or peak is None:
        last = output.strip().splitlines()[-1:] or ["no output"]
        raise LoudnessError(f"ffmpeg could not measure the file: {last[0][:200]}")
    lufs = float(integrated.group(1))
    if lufs <= SILENCE_LUFS:
        raise LoudnessError("the song is silent: no gain can be derived")
    peak_db = float(peak.group(1))
    return Loudness(integrated_lufs=lufs, sample_peak=round(10 ** (peak_db / 20), 6), duration_ms=duration_ms)


def album_loudness(tracks: list[Loudness]) -> Loudness:
    """The album as one programme: duration-weighted energy mean of loudness, the highest peak."""
    weights = [max(item.duration_ms, 1) for item in tracks]
    energy = sum(w * 10 ** (item.integrated_lufs / 10) for w, item in zip(weights, tracks, strict=True))
    return Loudness(
        integrated_lufs=round(10 * math.log10(energy / sum(weights)), 2),
        sample_peak=max(item.sample_peak for item in tracks),
        duration_ms=sum(weights),
    )


def replaygain_pending_albums(*, limit: int = PENDING_BATCH) -> list[int]:
    """Albums with a present track that has no gain and was not given up on."""
    unmeasured = Track.objects.filter(is_missing=False).filter(
        Q(replaygain_track_gain__isnull=True) | Q(replaygain_album_gain__isnull=True)
    )
    unmeasured = unmeasured.exclude(metadata_skips__has_key=SKIP_KEY)
    return list(unmeasured.order_by("album_id").values_list("album_id", flat=True).distinct()[:limit])


def album_replaygain_analyse(*, album_id: int) -> int:
    """Measure the album's present tracks that lack a gain, fill in track gains where the tags had none and the
    album gain over all measurable tracks when the tags had none; returns how many tracks were measured. A track
    that cannot be measured gets the reason in `metadata_skips` and is left out of the album's loudness."""
    tracks = list(Track.objects.filter(album_id=album_id, is_missing=False).exclude(metadata_skips__has_key=SKIP_KEY))
    needs_album = any(track.replaygain_album_gain is None for track in tracks)
    to_measure = [track for track in tracks if needs_album or track.replaygain_track_gain is None]
    measured: dict[int, Loudness] = {}
    failed: dict[int, str] = {}
    for track in to_measure:
        try:
            measured[track.pk] = loudness_measure(media_path(track.path), duration_ms=track.duration_ms)
        except (LoudnessError, UnsafePathError) as exc:
            failed[track.pk] = str(exc)
            logger.info("ReplayGain of track %s not measured: %s", track.pk, exc)
    album = album_loudness(list(measured.values())) if needs_album and measured else None
    with transaction.atomic():
        for track in to_measure:
            loudness = measured.get(track.pk)
            if loudness is None:
                track_skip_set(track_id=track.pk, what=SKIP_KEY, reason=failed[track.pk])
                continue
            fields: dict[str, float] = {}
            if track.replaygain_track_gain is None:
                fields |= {"replaygain_track_gain": loudness.gain_db, "replaygain_track_peak": loudness.sample_peak}
            if album is not None and track.replaygain_album_gain is None:
                fields |= {"replaygain_album_gain": album.gain_db, "replaygain_album_peak": album.sample_peak}
            if fields:
                Track.objects.filter(pk=track.pk).update(**fields)
    return len(measured)
