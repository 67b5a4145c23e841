"""downloads.relay on its own: how a relay follows a file, and when it stops (no worker, no network)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from downloads import relay
from downloads.models import DownloadJob, JobPhase, JobState
from downloads.ytdlp import ArrivingFile, DownloadProgress, _arriving_file

pytestmark = pytest.mark.django_db


def _running_job(settings: Any, tmp_path: Path, content: bytes, **record: Any) -> tuple[DownloadJob, Path]:
    settings.DOWNLOAD_TEMP_DIR = str(tmp_path)
    job = DownloadJob.objects.create(
        source="youtube", external_id="vidAAAAAAA1", state=JobState.RUNNING, phase=JobPhase.DOWNLOADING, attempt=1
    )
    partial = relay.work_dir(job_id=job.pk, attempt=1) / "media" / "partial" / "media.opus.part"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(content)
    announced = {"attempt": 1, "file": "media/partial/media.opus.part", "ext": "opus", "exact_size": None}
    job.meta = {"arriving": {**announced, "complete_size": None, **record}, "track": {"duration_ms": 8000}}
    job.save()
    return job, partial


def test_the_first_report_announces_the_file_and_the_last_its_whole_length(settings: Any, tmp_path: Path) -> None:
    settings.DOWNLOAD_TEMP_DIR = str(tmp_path)
    job = DownloadJob.objects.create(source="youtube", external_id="vidAAAAAAA1", attempt=2)
    partial = relay.work_dir(job_id=job.pk, attempt=2) / "media" / "partial" / "media.webm.part"
    arriving = ArrivingFile(path=partial, ext="webm", exact_size=5000, codec="opus", bitrate=130, sample_rate=48000)
    first = relay.arrival_meta({}, job=job, progress=DownloadProgress(1024, 5000, None, None, arriving=arriving))
    assert first is not None
    assert first["arriving"] == {
        "attempt": 2,
        "file": "media/partial/media.webm.part",
        "ext": "webm",
        "exact_size": 5000,
        "complete_size": None,
        "codec": "opus",
        "bitrate": 130,
        "sample_rate": 48000,
        "channels": 0,
    }
    again = DownloadProgress(2048, 5000, None, None, arriving=arriving)
    assert relay.arrival_meta(first, job=job, progress=again) is None  # nothing new: no meta write
    done = relay.arrival_meta(first, job=job, progress=DownloadProgress(5000, 5000, None, None, finished=True))
    assert done is not None
    assert done["arriving"]["complete_size"] == 5000


def test_a_file_outside_the_work_dir_is_never_announced(settings: Any, tmp_path: Path) -> None:
    settings.DOWNLOAD_TEMP_DIR = str(tmp_path / "incoming")
    job = DownloadJob.objects.create(source="youtube", external_id="vidAAAAAAA1", attempt=1)
    elsewhere = ArrivingFile(path=tmp_path / "etc" / "passwd", ext="opus", exact_size=None)
    assert relay.arrival_meta({}, job=job, progress=DownloadProgress(1, None, None, None, arriving=elsewhere)) is None


def test_a_relay_follows_the_file_until_its_whole_length(settings: Any, tmp_path: Path) -> None:
    job, partial = _running_job(settings, tmp_path, b"first ")
    media = relay.arriving_media_open(job_id=job.pk)
    assert media is not None
    assert (media.content_type, media.duration_ms) == ("audio/ogg", 8000)

    stream = media.stream()
    body = next(stream)
    with partial.open("ab") as out:  # more bytes arrive, then the transfer finishes
        out.write(b"and last")
    record = {**job.meta["arriving"], "complete_size": len(b"first and last")}
    DownloadJob.objects.filter(pk=job.pk).update(meta={**job.meta, "arriving": record})
    body += b"".join(stream)
    assert body == b"first and last"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"state": JobState.FAILED}, b"half"),
        ({"attempt": 2}, b"half"),  # another attempt took the job over
    ],
)
def test_a_relay_ends_when_the_download_is_no_longer_this_attempts(
    settings: Any, tmp_path: Path, change: dict[str, Any], expected: bytes
) -> None:
    job, _partial = _running_job(settings, tmp_path, b"half")
    media = relay.arriving_media_open(job_id=job.pk)
    assert media is not None
    DownloadJob.objects.filter(pk=job.pk).update(**change)
    assert b"".join(media.stream()) == expected


def test_a_relay_ends_when_the_file_restarts_from_scratch(settings: Any, tmp_path: Path) -> None:
    job, partial = _running_job(settings, tmp_path, b"0123456789")
    media = relay.arriving_media_open(job_id=job.pk)
    assert media is not None
    stream = media.stream()
    assert next(stream) == b"0123456789"
    partial.write_bytes(b"01")  # yt-dlp could not resume and truncated the file
    assert list(stream) == []


def test_a_stalled_download_ends_the_relay_after_the_idle_timeout(settings: Any, tmp_path: Path) -> None:
    settings.DOWNLOAD_RELAY_IDLE_SECONDS = 0.3
    job, _partial = _running_job(settings, tmp_path, b"stuck")
    media = relay.arriving_media_open(job_id=job.pk)
    assert media is not None
    started = time.monotonic()
    assert b"".join(media.stream()) == b"stuck"
    assert 0.3 <= time.monotonic() - started < 5


def test_closing_the_stream_gives_everything_back_once(settings: Any, tmp_path: Path) -> None:
    job, _partial = _running_job(settings, tmp_path, b"bytes")
    media = relay.arriving_media_open(job_id=job.pk)
    assert media is not None
    released: list[str] = []
    media.when_closed(lambda: released.append("place"))
    stream = media.stream()
    next(stream)
    stream.close()
    media.close()
    assert released == ["place"]


@pytest.mark.parametrize(
    "record",
    [
        {"file": "../../../../etc/passwd"},
        {"file": "/etc/passwd"},
        {"ext": "exe"},
        {"attempt": 7},
    ],
)
def test_only_this_attempts_audio_inside_its_work_dir_is_opened(
    settings: Any, tmp_path: Path, record: dict[str, Any]
) -> None:
    job, _partial = _running_job(settings, tmp_path, b"bytes", **record)
    assert relay.arriving_media_open(job_id=job.pk) is None


def test_nothing_is_opened_before_the_download_or_after_it(settings: Any, tmp_path: Path) -> None:
    job, _partial = _running_job(settings, tmp_path, b"bytes")
    DownloadJob.objects.filter(pk=job.pk).update(phase=JobPhase.TAGGING)
    assert relay.arriving_media_open(job_id=job.pk) is None
    DownloadJob.objects.filter(pk=job.pk).update(state=JobState.QUEUED, phase=JobPhase.NONE)
    assert relay.arriving_media_open(job_id=job.pk) is None


def test_yt_dlps_report_gives_the_formats_audio(tmp_path: Path) -> None:
    info = {"ext": "m4a", "acodec": "mp4a.40.2", "abr": 129.48, "asr": 44100, "audio_channels": 2}
    report = {"tmpfilename": str(tmp_path / "media.m4a.part"), "total_bytes": 9000, "info_dict": info}
    assert _arriving_file(report) == ArrivingFile(
        path=tmp_path / "media.m4a.part",
        ext="m4a",
        exact_size=9000,
        codec="mp4a.40.2",
        bitrate=129,
        sample_rate=44100,
        channels=2,
    )
    silent = {"ext": "ogg", "acodec": "none", "abr": float("nan"), "asr": None, "audio_channels": True}
    plain = _arriving_file({"tmpfilename": "x.part", "info_dict": silent})
    assert plain is not None
    assert (plain.codec, plain.bitrate, plain.sample_rate, plain.channels) == ("", 0, 0, 0)


@pytest.mark.parametrize(
    ("ext", "record", "head", "codec", "bitrate"),
    [
        ("m4a", {"codec": "mp4a.40.2", "bitrate": 129}, b"\0" * 64, "aac", 129),
        ("webm", {}, b"\x1aE\xdf\xa3" + b"\0" * 60, "opus", 8),  # 8000 bytes over 8 s: 8 kbps
        ("ogg", {}, b"OggS" + b"\0" * 24 + b"OpusHead" + b"\0" * 28, "opus", 8),
        ("ogg", {}, b"OggS" + b"\0" * 24 + b"\x01vorbis" + b"\0" * 29, "vorbis", 8),
    ],
)
def test_a_relay_knows_its_codec_and_bitrate_from_the_report_the_container_or_the_ogg_header(
    settings: Any, tmp_path: Path, ext: str, record: dict[str, Any], head: bytes, codec: str, bitrate: int
) -> None:
    job, _partial = _running_job(settings, tmp_path, head, ext=ext, exact_size=8000, **record)
    media = relay.arriving_media_open(job_id=job.pk)
    assert media is not None
    assert (media.codec, media.bitrate, media.suffix) == (codec, bitrate, ext)
    media.close()


def test_an_ogg_relay_waits_for_the_header_that_names_its_codec(settings: Any, tmp_path: Path) -> None:
    job, partial = _running_job(settings, tmp_path, b"OggS", ext="ogg")
    assert relay.arriving_media_open(job_id=job.pk) is None
    partial.write_bytes(b"OggS" + b"\0" * 24 + b"OpusHead" + b"\0" * 28)
    media = relay.arriving_media_open(job_id=job.pk)
    assert media is not None
    assert media.codec == "opus"
    media.close()
