"""Shares: a user's own shared links, and the public view of one by its token."""

from __future__ import annotations

from django.db.models import Prefetch
from django.utils import timezone

from accounts.models import User
from library.models import Share, ShareEntry, Track
from library.selectors.base import get_or_not_found, present
from library.selectors.rows import with_genre_names
from library.selectors.subsonic import subsonic_tracks


def shares_of(*, user: User, share_id: int | None = None) -> list[Share]:
    """`user`'s shares (or just one of them) with their present tracks prefetched as `entries`."""
    qs = Share.objects.filter(owner=user) if share_id is None else Share.objects.filter(owner=user, pk=share_id)
    shares = list(
        qs.select_related("owner")
        .prefetch_related(
            Prefetch(
                "entries",
                queryset=ShareEntry.objects.filter(present("track__"))
                .prefetch_related(Prefetch("track", queryset=subsonic_tracks(user=user)))
                .order_by("position"),
            )
        )
        .order_by("-created_at", "pk")
    )
    with_genre_names(entry.track for share in shares for entry in share.entries.all())
    return shares


def share_get(*, user: User, share_id: int) -> Share:
    """One of `user`'s shares (another user's is indistinguishable from none)."""
    return get_or_not_found(Share.objects.filter(owner=user).select_related("owner"), share_id, "Share")


def share_by_token(*, token: str) -> Share | None:
    """A live (unexpired) share for the public link."""
    share = Share.objects.filter(token=token).select_related("owner").first()
    if share is None or (share.expires_at is not None and share.expires_at <= timezone.now()):
        return None
    return share


def share_tracks(*, share: Share) -> list[Track]:
    entries = ShareEntry.objects.filter(present("track__"), share=share).select_related("track__album", "track__artist")
    return [entry.track for entry in entries.order_by("position")]
