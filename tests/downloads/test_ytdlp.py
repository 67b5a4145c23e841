"""The embedded yt-dlp against the local media server (generic extractor, real audio, real failures)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from downloads.errors import classify
from downloads.ytdlp import DownloadOptions, DownloadProgress, MediaDownloadError, audio_download
from library.tags import read_tags
from tests.fakes.fixtures import FakeYouTube

GENERIC = DownloadOptions(allowed_extractors=["generic"], socket_timeout=2.0, progress_interval=0.0)


class Cancelled(Exception):
    pass


def _download(fake: FakeYouTube, video_id: str, work: Path, options: DownloadOptions = GENERIC) -> Path:
    return audio_download(
        url=f"{fake.base_url}/watch?v={video_id}", work_dir=work, options=options, on_progress=lambda p: None
    )


def test_downloads_audio_and_reports_progress(fake_youtube: FakeYouTube, tmp_path: Path) -> None:
    seen: list[DownloadProgress] = []

    path = audio_download(
        url=f"{fake_youtube.base_url}/watch?v=vidAAAAAAA1",
        work_dir=tmp_path / "job",
        options=GENERIC,
        on_progress=seen.append,
    )

    assert path.parent == tmp_path / "job"
    assert path.suffix in (".ogg", ".opus")
    assert read_tags(path).duration_ms == pytest.approx(2000, abs=100)
    assert seen[-1].finished is True
    assert seen[-1].downloaded_bytes == seen[-1].total_bytes
    assert not list((tmp_path / "job").rglob("*.part"))


def test_transcodes_when_asked(fake_youtube: FakeYouTube, tmp_path: Path) -> None:
    options = DownloadOptions(allowed_extractors=["generic"], audio_format="mp3", audio_quality="5")

    path = _download(fake_youtube, "vidAAAAAAA1", tmp_path / "job", options)

    assert path.suffix == ".mp3"
    assert read_tags(path).codec.lower().startswith("mp3")


@pytest.mark.parametrize(("media", "status"), [("status:429", 429), ("status:503", 503), ("status:404", 404)])
def test_http_errors_carry_their_status(fake_youtube: FakeYouTube, tmp_path: Path, media: str, status: int) -> None:
    fake_youtube.catalog.songs["vidAAAAAAA1"].media = media

    with pytest.raises(MediaDownloadError) as caught:
        _download(fake_youtube, "vidAAAAAAA1", tmp_path / "job")

    assert caught.value.status == status


def test_truncated_body_is_incomplete_and_transient(fake_youtube: FakeYouTube, tmp_path: Path) -> None:
    fake_youtube.catalog.songs["vidAAAAAAA1"].media = "truncated"

    with pytest.raises(MediaDownloadError) as caught:
        _download(fake_youtube, "vidAAAAAAA1", tmp_path / "job")

    assert caught.value.incomplete is True
    assert classify(caught.value).code == "network"


def test_an_exception_from_the_progress_callback_cancels(fake_youtube: FakeYouTube, tmp_path: Path) -> None:
    song = fake_youtube.catalog.songs["vidUGCUGC01"]
    song.media, song.media_name = "slow", "long.opus"
    calls: list[int] = []

    def cancel_after_first(progress: DownloadProgress) -> None:
        calls.append(progress.downloaded_bytes)
        if progress.downloaded_bytes > 0:
            raise Cancelled

    with pytest.raises(Cancelled):
        audio_download(
            url=f"{fake_youtube.base_url}/watch?v=vidUGCUGC01",
            work_dir=tmp_path / "job",
            options=GENERIC,
            on_progress=cancel_after_first,
        )
    assert calls
    assert not list((tmp_path / "job").glob("media.*"))  # no finished file; the caller removes the partials


def test_production_extractors_refuse_other_hosts(fake_youtube: FakeYouTube, tmp_path: Path) -> None:
    options = DownloadOptions(allowed_extractors=["youtube"])

    with pytest.raises(MediaDownloadError) as caught:
        _download(fake_youtube, "vidAAAAAAA1", tmp_path / "job", options)

    assert caught.value.unsupported is True
    assert classify(caught.value).code == "extractor_not_allowed"


def test_cookies_are_given_as_a_private_copy(fake_youtube: FakeYouTube, tmp_path: Path) -> None:
    cookies = tmp_path / "cookies.txt"
    cookies.write_text("# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t0\tSID\tsecret\n")
    cookies.chmod(0o600)
    before = hashlib.sha256(cookies.read_bytes()).hexdigest()

    path = audio_download(
        url=f"{fake_youtube.base_url}/watch?v=vidAAAAAAA1",
        work_dir=tmp_path / "job",
        options=GENERIC,
        on_progress=lambda p: None,
        cookies_file=str(cookies),
    )

    assert path.exists()
    assert hashlib.sha256(cookies.read_bytes()).hexdigest() == before
    assert cookies.stat().st_mode & 0o777 == 0o600
    assert not (tmp_path / "job" / "cookies.txt").exists()


def test_malformed_cookies_are_a_config_error(fake_youtube: FakeYouTube, tmp_path: Path) -> None:
    cookies = tmp_path / "cookies.txt"
    cookies.write_text("this is not a cookies file\n")
    cookies.chmod(0o600)

    with pytest.raises(MediaDownloadError) as caught:
        audio_download(
            url=f"{fake_youtube.base_url}/watch?v=vidAAAAAAA1",
            work_dir=tmp_path / "job",
            options=GENERIC,
            on_progress=lambda p: None,
            cookies_file=str(cookies),
        )

    assert classify(caught.value).code == "cookies_invalid"


def test_a_file_above_the_size_limit_is_not_a_success(fake_youtube: FakeYouTube, tmp_path: Path) -> None:
    options = DownloadOptions(allowed_extractors=["generic"], max_filesize=1000)

    with pytest.raises(MediaDownloadError) as caught:
        _download(fake_youtube, "vidAAAAAAA1", tmp_path / "job", options)

    assert caught.value.too_large is True
