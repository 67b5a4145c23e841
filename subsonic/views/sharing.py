"""Shares: public links to songs, albums or playlists, served by `subsonic.public` without authentication."""

from __future__ import annotations

from django.urls import reverse

from library import selectors, services
from library.models import Share
from subsonic import builders, ids
from subsonic.call import Call
from subsonic.errors import missing_parameter
from subsonic.ids import Kind
from subsonic.responses import Node


def share_url(call: Call, share: Share) -> str:
    # Built from the request, so the link is right behind a reverse proxy or under a sub-path.
    return call.request.build_absolute_uri(reverse("share-page", args=[share.token]))


def _node(call: Call, share: Share) -> Node:
    tracks = [entry.track for entry in share.entries.all()]  # prefetched by the selector
    return builders.share(share, tracks, call.profile, url=share_url(call, share), limits=call.playback_limits())


def get_shares(call: Call) -> Node:
    node = Node("shares")
    node.add_list("share", [_node(call, share) for share in selectors.shares_of(user=call.user)])
    return node


def _track_ids(call: Call) -> list[int]:
    """Songs, albums (their songs) and playlists (their entries), in the order given."""
    track_ids: list[int] = []
    for raw in call.params.values("id"):
        kind, pk = ids.decode(raw, allowed=(Kind.TRACK, Kind.ALBUM, Kind.PLAYLIST), bare=Kind.TRACK)
        if kind is Kind.TRACK:
            track_ids.append(pk)
        elif kind is Kind.ALBUM:
            track_ids += [track.pk for track in selectors.album_with_tracks(user=call.user, album_id=pk)[1]]
        else:
            playlist = selectors.playlist_get(user=call.user, playlist_id=pk)
            track_ids += [track.pk for track in selectors.playlist_tracks(user=call.user, playlist=playlist)]
    if not track_ids:
        raise missing_parameter("id")
    return track_ids


def _listed(call: Call, share_id: int) -> Node:
    node = Node("shares")
    node.add_list("share", [_node(call, share) for share in selectors.shares_of(user=call.user, share_id=share_id)])
    return node


def create_share(call: Call) -> Node:
    call.require_role(call.user.can_share, "share")
    share = services.share_create(
        owner=call.user,
        track_ids=_track_ids(call),
        description=call.params.text("description") or "",
        expires_at=call.params.datetime_ms("expires") if call.params.integer("expires", 0) else None,
    )
    return _listed(call, share.pk)


def _share(call: Call) -> Share:
    return selectors.share_get(user=call.user, share_id=ids.decode_as(call.params.required("id"), Kind.SHARE))


def update_share(call: Call) -> None:
    """`expires=0` makes the share permanent; an absent parameter leaves that field alone."""
    share = _share(call)
    expires = call.params.integer("expires", None, minimum=0)
    services.share_update(
        share=share,
        actor=call.user,
        description=call.params.text("description"),
        expires_at=call.params.datetime_ms("expires") if expires else None,
        clear_expiry=expires == 0,
    )


def delete_share(call: Call) -> None:
    services.share_delete(share=_share(call), actor=call.user)
