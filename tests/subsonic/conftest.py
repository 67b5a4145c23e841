from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import User
from accounts.services import subsonic_password_reveal
from library.ingest.refresh import albums_refresh
from library.models import Album, Artist, Genre, Track
from tests.audio import AudioMaker
from tests.factories.accounts import AdminFactory, UserFactory
from tests.factories.library import AlbumFactory, ArtistFactory, GenreFactory, TrackFactory
from tests.subsonic.support import SubsonicClient


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Argon2 is deliberately slow; these tests create users by the dozen and never test login hashing."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(params=["xml", "json"])
def fmt(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["xml", "json", "jsonp"])
def any_fmt(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def client_for(user: User) -> SubsonicClient:
    return SubsonicClient(Client(), user.username, subsonic_password_reveal(user=user))


@pytest.fixture
def user(db: None) -> User:
    return UserFactory.create(username="alice")


@pytest.fixture
def admin(db: None) -> User:
    return AdminFactory.create(username="root")


@pytest.fixture
def api(user: User) -> SubsonicClient:
    return client_for(user)


@pytest.fixture
def admin_api(admin: User) -> SubsonicClient:
    return client_for(admin)


@dataclass
class Library:
    beatles: Artist
    bjork: Artist
    abbey: Album
    help_: Album
    debut: Album
    rock: Genre
    pop: Genre
    tracks: list[Track]

    def track(self, title: str) -> Track:
        return next(t for t in self.tracks if t.title == title)


def _track(album: Album, title: str, number: int, genre: Genre, **extra: Any) -> Track:
    track = TrackFactory.create(album=album, title=title, track_number=number, year=album.year, **extra)
    track.genres.add(genre)
    return track


@pytest.fixture
def library(db: None) -> Library:
    """Two artists, three albums, seven songs; counts refreshed the way the importer does it."""
    rock, pop = GenreFactory.create(name="Rock"), GenreFactory.create(name="Pop")
    beatles, bjork = ArtistFactory.create(name="The Beatles"), ArtistFactory.create(name="Björk")
    abbey = AlbumFactory.create(name="Abbey Road", album_artist=beatles, year=1969)
    help_ = AlbumFactory.create(name="Help!", album_artist=beatles, year=1965)
    debut = AlbumFactory.create(name="Début", album_artist=bjork, year=1993)
    tracks = [
        _track(abbey, "Come Together", 1, rock, duration_ms=259_000),
        _track(abbey, "Something", 2, rock, duration_ms=182_000),
        _track(abbey, "Here Comes the Sun", 7, rock, duration_ms=185_000),
        _track(help_, "Help!", 1, rock, duration_ms=138_000),
        _track(help_, "Yesterday", 13, pop, duration_ms=125_000),
        _track(debut, "Human Behaviour", 1, pop, duration_ms=252_000),
        _track(debut, "Venus as a Boy", 2, pop, duration_ms=281_000),
    ]
    albums_refresh([abbey.pk, help_.pk, debut.pk])
    for obj in (abbey, help_, debut, beatles, bjork):
        obj.refresh_from_db()
    return Library(beatles, bjork, abbey, help_, debut, rock, pop, tracks)


SECONDS = 6.0


def _real_flac(
    library: Library, audio_maker: AudioMaker, title: str, relative: str, fmt: str, shape: dict[str, int]
) -> Track:
    """The library's song `title` backed by a real FLAC file of `fmt` (tests/audio.py) under MEDIA_ROOT."""
    track = library.track(title)
    path = audio_maker.make(Path(settings.MEDIA_ROOT) / relative, fmt, seconds=SECONDS)
    Track.objects.filter(pk=track.pk).update(
        path=relative,
        suffix="flac",
        codec="flac",
        content_type="audio/flac",
        size_bytes=path.stat().st_size,
        duration_ms=int(SECONDS * 1000),
        **shape,
    )
    track.refresh_from_db()
    return track


@pytest.fixture
def flac_song(library: Library, audio_maker: AudioMaker) -> Track:
    """ "Something" as a real six-second mono FLAC file under MEDIA_ROOT, for the tests that transcode."""
    relative = "The Beatles/Abbey Road (1969)/02 Something.flac"
    shape = {"bitrate": 700, "channels": 1, "sample_rate": 44100, "bit_depth": 16}
    return _real_flac(library, audio_maker, "Something", relative, "flac", shape)


@pytest.fixture
def hires_song(library: Library, audio_maker: AudioMaker) -> Track:
    """ "Here Comes the Sun" as a real six-second 96 kHz, 24-bit stereo FLAC, for sample rate and size limits."""
    relative = "The Beatles/Abbey Road (1969)/07 Here Comes the Sun.flac"
    shape = {"bitrate": 1500, "channels": 2, "sample_rate": 96000, "bit_depth": 24}
    return _real_flac(library, audio_maker, "Here Comes the Sun", relative, "hires.flac", shape)


def streamed_body(response: Any) -> bytes:
    """A streaming response's whole body. The test client closes the response once it is read, as a WSGI server
    does; closing it again here would fire request_finished with close_old_connections attached, which closes
    the connection holding the test's transaction (on PostgreSQL every later query then fails). Hang-up tests
    close a response taken without the test client (`_hang_up` in test_transcoding.py)."""
    return b"".join(response.streaming_content)
