"""getScanStatus/startScan, shares (and their public pages), internet radio stations."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from accounts.models import User
from downloads.models import DownloadJob, JobKind, JobState
from library.models import InternetRadioStation, Share, Track
from sources import services as scan_services
from sources import tasks as scan_tasks
from sources.models import ScanRun, ScanState
from tests.audio import AudioMaker
from tests.factories.accounts import UserFactory
from tests.subsonic.conftest import Library, client_for
from tests.subsonic.support import SubsonicClient


# --- scanning ---------------------------------------------------------------------------------------------------
def test_scan_status_idle(api: SubsonicClient, library: Library, fmt: str) -> None:
    status = api.call("getScanStatus", fmt).one("scanStatus")
    assert status["scanning"] == "false"
    assert status["count"] == "7"


def test_scan_status_while_scanning(api: SubsonicClient, library: Library, fmt: str) -> None:
    ScanRun.objects.create(source="local", root="/music", state=ScanState.RUNNING, found=42)
    status = api.call("getScanStatus", fmt).one("scanStatus")
    assert status["scanning"] == "true"
    assert status["count"] == "42"


def test_downloads_in_progress_count_as_scanning(api: SubsonicClient, library: Library, fmt: str) -> None:
    DownloadJob.objects.create(kind=JobKind.SONG, source="youtube", external_id="abc123", state=JobState.RUNNING)
    status = api.call("getScanStatus", fmt).one("scanStatus")
    assert status["scanning"] == "true"
    assert status["count"] == "7"


def test_start_scan_is_admin_only(api: SubsonicClient, fmt: str) -> None:
    assert api.call("startScan", fmt).error_code == 50
    assert not ScanRun.objects.exists()


def test_start_scan_queues_a_scan(admin_api: SubsonicClient, fmt: str, settings: Any, tmp_path: Path) -> None:
    music = tmp_path / "music"
    music.mkdir()
    settings.MCMA_SOURCES = {
        **settings.MCMA_SOURCES,
        "local": {"BACKEND": "sources.backends.local.LocalSource", "OPTIONS": {"root": str(music)}},
    }
    reply = admin_api.call("startScan", fmt)
    assert reply.ok, reply.body
    assert reply.one("scanStatus")["scanning"] == "true"
    assert ScanRun.objects.filter(source="local", requested_by__username="root").count() == 1
    again = admin_api.call("startScan", fmt)  # already running: not an error
    assert again.one("scanStatus")["scanning"] == "true"


@pytest.fixture
def music_folder(settings: Any, tmp_path: Path) -> Path:
    music = tmp_path / "music"
    music.mkdir()
    settings.MCMA_SOURCES = {
        **settings.MCMA_SOURCES,
        "local": {"BACKEND": "sources.backends.local.LocalSource", "OPTIONS": {"root": str(music)}},
    }
    return music


@pytest.mark.django_db(transaction=True)  # the enqueue runs on commit, as in production
def test_start_scan_while_the_broker_is_down_says_scanning(
    admin_api: SubsonicClient, fmt: str, music_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[int] = []

    def broker_down(scan_id: int) -> None:
        attempts.append(scan_id)
        raise KombuOperationalError("Timeout reading from socket")

    monkeypatch.setattr(scan_tasks.scan_run_task, "delay", broker_down)

    reply = admin_api.call("startScan", fmt)

    assert reply.ok, reply.body
    assert len(attempts) == 1
    assert reply.one("scanStatus")["scanning"] == "true"  # kept queued: the sweep sends it later
    assert ScanRun.objects.get().state == ScanState.QUEUED
    assert admin_api.call("getScanStatus", fmt).one("scanStatus")["scanning"] == "true"


@pytest.mark.django_db(transaction=True)  # the enqueue runs on commit, as in production
def test_start_scan_of_a_scan_that_failed_at_once_says_why(
    admin_api: SubsonicClient, fmt: str, music_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(scan_services, "scan_tree", crash)
    monkeypatch.setattr(scan_tasks.scan_run_task, "delay", lambda scan_id: scan_services.scan_run(scan_id=scan_id))

    reply = admin_api.call("startScan", fmt)

    assert reply.error_code == 0
    assert "disk on fire" in reply.error_message


def test_a_scan_whose_worker_died_stops_showing_as_scanning(
    api: SubsonicClient, library: Library, fmt: str, settings: Any
) -> None:
    silent = timezone.now() - timedelta(seconds=settings.SCAN_STALE_AFTER_SECONDS + 1)
    ScanRun.objects.create(
        source="local", root="/music", state=ScanState.RUNNING, started_at=silent, heartbeat_at=silent
    )
    assert api.call("getScanStatus", fmt).one("scanStatus")["scanning"] == "true"

    scan_services.scans_sweep()

    status = api.call("getScanStatus", fmt).one("scanStatus")
    assert status["scanning"] == "false"
    assert status["count"] == "7"


def test_start_scan_without_a_folder_explains(admin_api: SubsonicClient, fmt: str, settings: Any) -> None:
    settings.MCMA_SOURCES = {
        **settings.MCMA_SOURCES,
        "local": {"BACKEND": "sources.backends.local.LocalSource", "OPTIONS": {"root": ""}},
    }
    reply = admin_api.call("startScan", fmt)
    assert reply.error_code == 0
    assert reply.error_message


# --- sharing ----------------------------------------------------------------------------------------------------
@pytest.fixture
def sharer(user: User) -> SubsonicClient:
    User.objects.filter(pk=user.pk).update(can_share=True)
    user.refresh_from_db()
    return client_for(user)


def test_share_lifecycle(sharer: SubsonicClient, library: Library, fmt: str) -> None:
    expires = int((timezone.now() + timedelta(days=2)).timestamp() * 1000)
    created = sharer.call(
        "createShare",
        fmt,
        id=[f"tr-{library.track('Yesterday').pk}", f"al-{library.abbey.pk}"],
        description="for Bob",
        expires=expires,
    )
    share = created.one("shares", "share")
    assert share["description"] == "for Bob"
    assert share["username"] == "alice"
    assert share["url"].startswith("http://testserver/share/")
    assert share["visitCount"] == "0"
    assert share["expires"].endswith("Z")
    assert len(created.items("shares", "share", "entry")) == 4
    assert sharer.call("updateShare", fmt, id=share["id"], description="for Carol", expires=0).ok
    listed = sharer.call("getShares", fmt).one("shares", "share")
    assert listed["description"] == "for Carol"
    assert "expires" not in listed
    assert sharer.call("deleteShare", fmt, id=share["id"]).ok
    assert not Share.objects.exists()
    assert sharer.call("deleteShare", fmt, id=share["id"]).error_code == 70


def test_share_rules(api: SubsonicClient, sharer: SubsonicClient, library: Library, fmt: str) -> None:
    song = f"tr-{library.tracks[0].pk}"
    no_role = client_for(UserFactory.create(username="norole"))
    assert no_role.call("createShare", fmt, id=song).error_code == 50
    assert sharer.call("createShare", fmt).error_code == 10
    assert sharer.call("createShare", fmt, id="tr-999999").error_code == 70
    assert sharer.call("createShare", fmt, id=song, expires=1000).error_code == 0  # in the past
    share_id = sharer.call("createShare", fmt, id=song).one("shares", "share")["id"]
    other = client_for(UserFactory.create(username="bob", can_share=True))
    assert other.call("deleteShare", fmt, id=share_id).error_code == 70


def test_public_share_page_and_audio(
    sharer: SubsonicClient, library: Library, audio_maker: AudioMaker, client: Client
) -> None:
    track = library.track("Yesterday")
    audio_maker.make(Path(settings.MEDIA_ROOT) / "y.mp3", "mp3")
    Track.objects.filter(pk=track.pk).update(path="y.mp3")
    url = sharer.call("createShare", "json", id=f"tr-{track.pk}").one("shares", "share")["url"]
    page = client.get(url)
    assert page.status_code == 200
    assert "Yesterday" in page.content.decode()
    assert Share.objects.get().visit_count == 1
    audio = client.get(url + "/0")
    assert audio.status_code == 200
    assert audio["Content-Type"] == "audio/mpeg"
    assert client.get(url + "/1").status_code == 404
    Share.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    assert client.get(url).status_code == 404
    assert client.get("/share/not-a-token").status_code == 404


# --- internet radio ---------------------------------------------------------------------------------------------
def test_radio_stations(admin_api: SubsonicClient, api: SubsonicClient, fmt: str) -> None:
    created = admin_api.call(
        "createInternetRadioStation",
        fmt,
        name="FIP",
        streamUrl="https://icecast.example/fip.mp3",
        homepageUrl="https://fip.example",
    )
    assert created.ok
    station = api.call("getInternetRadioStations", fmt).one("internetRadioStations", "internetRadioStation")
    assert station["name"] == "FIP"
    assert station["streamUrl"] == "https://icecast.example/fip.mp3"
    assert station["homePageUrl"] == "https://fip.example"
    assert station["id"].startswith("ir-")
    updated = admin_api.call(
        "updateInternetRadioStation", fmt, id=station["id"], name="FIP Jazz", streamUrl="https://icecast.example/j"
    )
    assert updated.ok
    assert InternetRadioStation.objects.get().name == "FIP Jazz"
    assert InternetRadioStation.objects.get().homepage_url == ""
    assert admin_api.call("deleteInternetRadioStation", fmt, id=station["id"]).ok
    assert not InternetRadioStation.objects.exists()


def test_radio_rules(admin_api: SubsonicClient, api: SubsonicClient, fmt: str) -> None:
    stream = "https://icecast.example/a.mp3"
    assert api.call("createInternetRadioStation", fmt, name="X", streamUrl=stream).error_code == 50
    assert admin_api.call("createInternetRadioStation", fmt, name="X").error_code == 10
    assert admin_api.call("createInternetRadioStation", fmt, name="X", streamUrl="javascript:alert(1)").error_code == 0
    station = InternetRadioStation.objects.create(name="A", stream_url=stream)
    assert api.call("deleteInternetRadioStation", fmt, id=f"ir-{station.pk}").error_code == 50
    assert admin_api.call("deleteInternetRadioStation", fmt, id="ir-999999").error_code == 70
