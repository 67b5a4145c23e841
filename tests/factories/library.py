from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from library.models import Album, Artist, Genre, Playlist, Track
from library.text import fold, sort_name


class GenreFactory(DjangoModelFactory[Genre]):
    class Meta:
        model = Genre
        django_get_or_create = ("name_key",)

    name = factory.Sequence(lambda n: f"Genre {n}")
    name_key = factory.LazyAttribute(lambda g: fold(g.name))


class ArtistFactory(DjangoModelFactory[Artist]):
    class Meta:
        model = Artist

    name = factory.Sequence(lambda n: f"Artist {n}")
    name_key = factory.LazyAttribute(lambda a: fold(a.name))
    sort_name = factory.LazyAttribute(lambda a: sort_name(a.name))


class AlbumFactory(DjangoModelFactory[Album]):
    class Meta:
        model = Album

    name = factory.Sequence(lambda n: f"Album {n}")
    name_key = factory.LazyAttribute(lambda a: fold(a.name))
    sort_name = factory.LazyAttribute(lambda a: sort_name(a.name))
    album_artist = factory.SubFactory(ArtistFactory)
    year = 2001


class TrackFactory(DjangoModelFactory[Track]):
    class Meta:
        model = Track

    source = "local"
    source_id = factory.Sequence(lambda n: f"music/track-{n}.mp3")
    title = factory.Sequence(lambda n: f"Track {n}")
    title_key = factory.LazyAttribute(lambda t: fold(t.title))
    album = factory.SubFactory(AlbumFactory)
    artist = factory.LazyAttribute(lambda t: t.album.album_artist)
    artist_display = factory.LazyAttribute(lambda t: t.artist.name)
    track_number = factory.Sequence(lambda n: n % 20 + 1)
    year = 2001
    duration_ms = 180_000
    bitrate = 320
    sample_rate = 44100
    channels = 2
    codec = "mp3"
    suffix = "mp3"
    content_type = "audio/mpeg"
    path = factory.Sequence(lambda n: f"library/track-{n}.mp3")
    size_bytes = 1000


class PlaylistFactory(DjangoModelFactory[Playlist]):
    class Meta:
        model = Playlist

    owner = factory.SubFactory("tests.factories.accounts.UserFactory")
    name = factory.Sequence(lambda n: f"Playlist {n}")
    is_public = False
