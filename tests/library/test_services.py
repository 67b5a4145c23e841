"""library.services: stars, ratings, plays and playlists, called directly (the Subsonic views use the same)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from library import services
from library.models import AlbumAnnotation, ArtistAnnotation, Play, Playlist, PlaylistEntry, TrackAnnotation
from mcma.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from tests.factories.accounts import UserFactory
from tests.factories.library import AlbumFactory, ArtistFactory, TrackFactory

pytestmark = pytest.mark.django_db


def entries(playlist: Playlist) -> list[int]:
    return list(PlaylistEntry.objects.filter(playlist=playlist).order_by("position").values_list("track_id", flat=True))


def test_star_set_keeps_the_first_star_time_and_unstars() -> None:
    user = UserFactory.create()
    tracks = TrackFactory.create_batch(2)
    services.star_set(user=user, kind="track", ids=[t.pk for t in tracks], starred=True)
    first = TrackAnnotation.objects.get(user=user, track=tracks[0]).starred_at
    assert first is not None
    services.star_set(user=user, kind="track", ids=[tracks[0].pk, tracks[0].pk], starred=True)
    assert TrackAnnotation.objects.get(user=user, track=tracks[0]).starred_at == first
    services.star_set(user=user, kind="track", ids=[tracks[0].pk], starred=False)
    assert TrackAnnotation.objects.get(user=user, track=tracks[0]).starred_at is None
    assert TrackAnnotation.objects.get(user=user, track=tracks[1]).starred_at is not None


@pytest.mark.parametrize(("kind", "factory"), [("album", AlbumFactory), ("artist", ArtistFactory)])
def test_star_set_for_albums_and_artists(kind: str, factory: Any) -> None:
    user = UserFactory.create()
    item = factory.create()
    services.star_set(user=user, kind=kind, ids=[item.pk], starred=True)  # type: ignore[arg-type]
    model = AlbumAnnotation if kind == "album" else ArtistAnnotation
    assert model.objects.filter(user=user, starred_at__isnull=False).count() == 1


def test_star_set_rejects_unknown_ids_without_partial_writes() -> None:
    user = UserFactory.create()
    track = TrackFactory.create()
    with pytest.raises(NotFoundError) as excinfo:
        services.star_set(user=user, kind="track", ids=[track.pk, 999_999], starred=True)
    assert excinfo.value.details == {"missing": [999_999]}
    assert not TrackAnnotation.objects.exists()
    with pytest.raises(InvalidInputError):
        services.star_set(user=user, kind="song", ids=[track.pk], starred=True)  # type: ignore[arg-type]


@pytest.mark.parametrize("rating", [-1, 6, True, 2.5])
def test_rating_set_validates(rating: object) -> None:
    user = UserFactory.create()
    track = TrackFactory.create()
    with pytest.raises(InvalidInputError):
        services.rating_set(user=user, kind="track", item_id=track.pk, rating=rating)  # type: ignore[arg-type]


def test_rating_set_sets_and_clears() -> None:
    user = UserFactory.create()
    album = AlbumFactory.create()
    services.rating_set(user=user, kind="album", item_id=album.pk, rating=4)
    assert AlbumAnnotation.objects.get(user=user, album=album).rating == 4
    services.rating_set(user=user, kind="album", item_id=album.pk, rating=0)
    assert AlbumAnnotation.objects.get(user=user, album=album).rating == 0
    with pytest.raises(NotFoundError):
        services.rating_set(user=user, kind="album", item_id=999_999, rating=3)


def test_play_record_counts_and_never_moves_last_played_backwards() -> None:
    user = UserFactory.create()
    track = TrackFactory.create()
    now = datetime(2026, 5, 1, 12, tzinfo=UTC)
    services.play_record(user=user, track=track, played_at=now, client="x" * 300)
    services.play_record(user=user, track=track, played_at=now - timedelta(days=3))  # a late scrobble
    assert Play.objects.filter(user=user).count() == 2
    assert len(Play.objects.first().client) == 100  # type: ignore[union-attr]
    for annotation in (
        TrackAnnotation.objects.get(user=user, track=track),
        AlbumAnnotation.objects.get(user=user, album=track.album),
        ArtistAnnotation.objects.get(user=user, artist=track.artist),
    ):
        assert annotation.play_count == 2
        assert annotation.last_played_at == now


def test_playlist_lifecycle() -> None:
    owner = UserFactory.create()
    t = TrackFactory.create_batch(4)
    playlist = services.playlist_create(owner=owner, name=" Mix ", track_ids=[t[0].pk, t[1].pk, t[0].pk])
    assert playlist.name == "Mix"
    assert entries(playlist) == [t[0].pk, t[1].pk, t[0].pk]
    services.playlist_update(
        playlist=playlist, actor=owner, name="Mix 2", is_public=True, remove_positions=[0], add_track_ids=[t[3].pk]
    )
    playlist.refresh_from_db()
    assert (playlist.name, playlist.is_public) == ("Mix 2", True)
    assert entries(playlist) == [t[1].pk, t[0].pk, t[3].pk]
    services.playlist_entry_move(playlist=playlist, actor=owner, from_position=2, to_position=0)
    assert entries(playlist) == [t[3].pk, t[1].pk, t[0].pk]
    services.playlist_tracks_replace(playlist=playlist, actor=owner, track_ids=[t[2].pk])
    assert entries(playlist) == [t[2].pk]
    services.playlist_delete(playlist=playlist, actor=owner)
    assert not Playlist.objects.exists()


def test_playlist_writes_are_owner_only() -> None:
    owner, other = UserFactory.create(), UserFactory.create()
    playlist = services.playlist_create(owner=owner, name="Mine", is_public=True)
    with pytest.raises(PermissionDeniedError):
        services.playlist_update(playlist=playlist, actor=other, name="theirs")
    with pytest.raises(PermissionDeniedError):
        services.playlist_tracks_replace(playlist=playlist, actor=other, track_ids=[])
    with pytest.raises(PermissionDeniedError):
        services.playlist_delete(playlist=playlist, actor=other)
    playlist.refresh_from_db()
    assert playlist.name == "Mine"


def test_playlist_input_errors_leave_the_playlist_untouched() -> None:
    owner = UserFactory.create()
    track = TrackFactory.create()
    playlist = services.playlist_create(owner=owner, name="P", track_ids=[track.pk])
    with pytest.raises(NotFoundError):
        services.playlist_update(playlist=playlist, actor=owner, add_track_ids=[999_999])
    with pytest.raises(InvalidInputError):
        services.playlist_update(playlist=playlist, actor=owner, remove_positions=[1])
    with pytest.raises(InvalidInputError):
        services.playlist_create(owner=owner, name="   ")
    assert entries(playlist) == [track.pk]
