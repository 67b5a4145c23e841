"""Fixtures of the security probes: two ordinary users (the owner and the intruder), an admin, a small library,
and clients for both APIs. Every probe here is marked `security` (`make security` runs only them)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import User
from library.ingest.refresh import albums_refresh
from library.models import Track
from tests.factories.accounts import UserFactory
from tests.factories.library import AlbumFactory, ArtistFactory, TrackFactory
from tests.subsonic.conftest import admin, client_for
from tests.subsonic.support import SubsonicClient

__all__ = ["admin"]  # the Subsonic suite's admin fixture, shared here rather than written twice

# Some probes only fail where the database refuses input SQLite takes (NUL in text): their xfails say so.
ON_POSTGRESQL = "postgresql" in settings.DATABASES["default"]["ENGINE"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`make security` runs `-m security`: a probe here without the marker would silently drop out of it."""
    unmarked = [
        item.nodeid
        for item in items
        if "tests/security/" in item.path.as_posix() and item.get_closest_marker("security") is None
    ]
    if unmarked:
        raise pytest.UsageError(f"mark these @pytest.mark.security: {', '.join(unmarked)}")


@pytest.fixture
def owner(db: None) -> User:
    return UserFactory.create(username="alice", can_share=True)


@pytest.fixture
def intruder(db: None) -> User:
    return UserFactory.create(username="mallory", can_share=True)


@pytest.fixture
def owner_sub(owner: User) -> SubsonicClient:
    return client_for(owner)


@pytest.fixture
def intruder_sub(intruder: User) -> SubsonicClient:
    return client_for(intruder)


def rest_client(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def owner_rest(owner: User) -> APIClient:
    return rest_client(owner)


@pytest.fixture
def intruder_rest(intruder: User) -> APIClient:
    return rest_client(intruder)


@pytest.fixture
def tracks(db: None) -> list[Track]:
    artist = ArtistFactory.create(name="Probe Artist")
    album = AlbumFactory.create(name="Probe Album", album_artist=artist, year=2001)
    made = [TrackFactory.create(album=album, title=f"Probe {n}", track_number=n) for n in (1, 2, 3)]
    albums_refresh([album.pk])
    return made


@pytest.fixture
def anonymous() -> Client:
    return Client()


@pytest.fixture(params=["xml", "json"])
def fmt(request: pytest.FixtureRequest) -> str:
    return str(request.param)
