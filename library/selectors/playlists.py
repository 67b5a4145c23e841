"""Playlists: a user sees their own and everyone's public ones; only the owner may change one (services)."""

from __future__ import annotations

from django.db.models import Count, IntegerField, Prefetch, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from accounts.models import User
from library.models import Playlist, PlaylistEntry, Track
from library.selectors.base import get_or_not_found, present, with_user_data
from library.selectors.rows import with_genre_names
from library.selectors.subsonic import subsonic_tracks


def playlists_visible(*, user: User) -> QuerySet[Playlist]:
    return (
        Playlist.objects.filter(Q(owner=user) | Q(is_public=True))
        .select_related("owner")
        .annotate(
            entry_count=Count("entries"),
            duration_ms=Coalesce(Sum("entries__track__duration_ms"), Value(0), output_field=IntegerField()),
        )
        .order_by("name", "pk")
    )


def playlist_get(*, user: User, playlist_id: int) -> Playlist:
    """A visible playlist, or NotFoundError (another user's private playlist is indistinguishable from none)."""
    return get_or_not_found(playlists_visible(user=user), playlist_id, "Playlist")


def playlist_entries(*, playlist: Playlist, user: User) -> QuerySet[PlaylistEntry]:
    """The REST view of a playlist: every entry in order, `user`'s data on each (annotated on the entry)."""
    qs = PlaylistEntry.objects.filter(playlist=playlist).select_related("track__album", "track__artist")
    return with_user_data(qs, user=user, through="track__").order_by("position", "pk")


def playlist_tracks(*, user: User, playlist: Playlist) -> list[Track]:
    """The playlist's present tracks in order, duplicates kept, with `user`'s data on each."""
    entries = (
        PlaylistEntry.objects.filter(present("track__"), playlist=playlist)
        .prefetch_related(Prefetch("track", queryset=subsonic_tracks(user=user)))
        .order_by("position", "pk")
    )
    return with_genre_names(entry.track for entry in entries)
