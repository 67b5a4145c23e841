"""Suite-wide fixtures: no traffic leaves the machine, media goes to a temp dir, audio is made by ffmpeg."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.audio import AudioMaker
from tests.fakes.coverart_server import FakeCoverArchive, coverart_server
from tests.fakes.lastfm_server import API_KEY, API_SECRET, FakeLastFm, lastfm_server
from tests.fakes.listenbrainz_server import FakeListenBrainz, listenbrainz_server
from tests.fakes.lrclib_server import FakeLrclib, lrclib_server

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _is_local(address: Any) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self: socket.socket, address: Any) -> None:
    if not _is_local(address):
        raise ConnectionRefusedError(f"tests may not connect to {address!r}: loopback only")
    _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    if not _is_local(address):
        raise ConnectionRefusedError(f"tests may not connect to {address!r}: loopback only")
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    results = _real_getaddrinfo(host, *args, **kwargs) if _host_is_local_name(host) else None
    if results is None:
        raise socket.gaierror(f"tests may not resolve {host!r}: loopback only")
    return results


def _host_is_local_name(host: Any) -> bool:
    if host is None:
        return True
    name = host.decode() if isinstance(host, bytes) else str(host)
    return name in ("localhost", "") or _is_local((name, 0))


@pytest.fixture(autouse=True, scope="session")
def _block_non_loopback_network() -> Iterator[None]:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign,assignment]
    socket.getaddrinfo = _guarded_getaddrinfo
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _real_getaddrinfo


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    """Each test starts with an empty cache: cached figures, throttle counters or search hits never leak across."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Argon2 costs ~100 ms and ~100 MiB per hash by design and the suite hashes thousands of passwords; stored
    hashes still verify with every configured hasher. Tests about the real hasher use `production_hashing`."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *settings.PASSWORD_HASHERS]


@pytest.fixture
def production_hashing(settings: Any) -> None:
    """For tests about the real hasher: the configured (argon2-first) list back."""
    settings.PASSWORD_HASHERS = settings.PASSWORD_HASHERS[1:]


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MCMA_CACHE_DIR = tmp_path / "cache"
    settings.MEDIA_ROOT.mkdir()


@pytest.fixture
def remove_ffmpeg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Callable[[], None]]:
    """`remove_ffmpeg()` takes ffmpeg off PATH from then on, as on a machine without it (the server looks it up
    once per process, so the lookup is redone)."""
    from library import transcoding

    def remove() -> None:
        empty = tmp_path / "bin-without-ffmpeg"
        empty.mkdir(exist_ok=True)
        monkeypatch.setenv("PATH", str(empty))
        transcoding.ffmpeg_path.cache_clear()

    yield remove
    transcoding.ffmpeg_path.cache_clear()  # PATH comes back after this; the next lookup finds ffmpeg again


@pytest.fixture
def without_ffmpeg(remove_ffmpeg: Callable[[], None]) -> None:
    remove_ffmpeg()


@pytest.fixture(scope="session")
def audio_maker(tmp_path_factory: pytest.TempPathFactory) -> AudioMaker:
    """Makes real audio files with ffmpeg, cached per (format, tags, seconds) for the whole session."""
    return AudioMaker(tmp_path_factory.mktemp("audio-cache"))


@pytest.fixture
def api_client_for(db: None) -> Any:
    """`api_client_for(user)` → a DRF APIClient sending that user's JWT access token (None → anonymous)."""
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import RefreshToken

    def make(user: Any = None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
        return client

    return make


@pytest.fixture(autouse=True, scope="session")
def _celery_broker_for_tests() -> None:
    """Tests use the broker CELERY_BROKER_URL names (Redis in CI); the embedded filesystem default becomes
    kombu's in-process memory transport, so no queue folders are written and a test worker shares the queue."""
    from django.conf import settings

    from mcma.celery import app

    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        settings.CELERY_BROKER_URL = "memory://"
        settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
        app.conf.update(
            broker_url="memory://", broker_write_url=None, broker_read_url=None, broker_transport_options={}
        )


@pytest.fixture(autouse=True)
def _listenbrainz_offline(settings: Any) -> None:
    """No test reaches the real ListenBrainz or Last.fm: by default their URLs are a closed local port (the discard
    port)."""
    settings.LISTENBRAINZ_URL = "http://127.0.0.1:9"
    settings.LASTFM_API_URL = settings.LASTFM_AUTH_URL = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def _metadata_services_offline(settings: Any) -> None:
    """No test reaches the real LRCLIB or Cover Art Archive: their URLs are a closed local port."""
    settings.LRCLIB_URL = "http://127.0.0.1:9"
    settings.COVERART_URL = "http://127.0.0.1:9"


@pytest.fixture
def fake_lrclib(settings: Any) -> Iterator[FakeLrclib]:
    """A fake LRCLIB on 127.0.0.1 that LRCLIB_URL points at, with LRCLIB enabled."""
    with lrclib_server() as fake:
        settings.LRCLIB_URL = fake.base_url
        settings.LRCLIB_ENABLED = True
        settings.LRCLIB_TIMEOUT_SECONDS = 1.0
        settings.METADATA_RETRY_BASE_SECONDS = 0.01  # library.remote's in-call retries stay quick
        settings.METADATA_HTTP_RETRIES = 1
        yield fake


@pytest.fixture
def fake_coverart(settings: Any) -> Iterator[FakeCoverArchive]:
    """A fake Cover Art Archive on 127.0.0.1 that COVERART_URL points at."""
    with coverart_server() as fake:
        settings.COVERART_URL = fake.base_url
        settings.COVERART_TIMEOUT_SECONDS = 1.0
        settings.METADATA_RETRY_BASE_SECONDS = 0.01  # library.remote's in-call retries stay quick
        settings.METADATA_HTTP_RETRIES = 1
        yield fake


@pytest.fixture
def fake_listenbrainz(settings: Any) -> Iterator[FakeListenBrainz]:
    """A fake ListenBrainz on 127.0.0.1 that LISTENBRAINZ_URL points at; the token "good-token" is "alice-lb"'s."""
    with listenbrainz_server() as fake:
        fake.tokens["good-token"] = "alice-lb"
        settings.LISTENBRAINZ_URL = fake.base_url
        settings.LISTENBRAINZ_TIMEOUT_SECONDS = 5.0
        yield fake


@pytest.fixture
def fake_lastfm(settings: Any) -> Iterator[FakeLastFm]:
    """A fake Last.fm on 127.0.0.1, with this server's API account set up for it."""
    with lastfm_server() as fake:
        settings.LASTFM_API_KEY, settings.LASTFM_API_SECRET = API_KEY, API_SECRET
        settings.LASTFM_API_URL, settings.LASTFM_AUTH_URL = fake.api_url, fake.auth_url
        settings.LASTFM_TIMEOUT_SECONDS = 5.0
        yield fake
