"""User-facing library writes: stars, ratings, plays and playlists. Keyword-only, atomic, domain errors only."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Case, F, Model, Q, Value, When
from django.utils import timezone

from accounts.models import User
from library import scrobbling
from library.models import (
    Album,
    AlbumAnnotation,
    Artist,
    ArtistAnnotation,
    Bookmark,
    InternetRadioStation,
    NowPlaying,
    PendingAction,
    PendingReference,
    Play,
    PlaybackState,
    Playlist,
    PlaylistEntry,
    PlayQueue,
    PlayQueueEntry,
    PlaySource,
    Share,
    ShareEntry,
    Track,
    TrackAnnotation,
)
from library.selectors import radio_station_get
from mcma.errors import InvalidInputError, NotFoundError, PermissionDeniedError

AnnotatedKind = Literal["track", "album", "artist"]

_ANNOTATED: dict[str, tuple[type[Model], type[Model]]] = {
    "track": (Track, TrackAnnotation),
    "album": (Album, AlbumAnnotation),
    "artist": (Artist, ArtistAnnotation),
}
PLAYLIST_MAX_ENTRIES = 10_000


def _kind_models(kind: str) -> tuple[type[Model], type[Model]]:
    try:
        return _ANNOTATED[kind]
    except KeyError:
        raise InvalidInputError("Unknown item kind.", details={"kind": kind, "known": sorted(_ANNOTATED)}) from None


def _ids_require(model: type[Model], ids: Iterable[int], label: str) -> list[int]:
    """The distinct ids, in order, after checking they all exist; NotFoundError lists the missing ones."""
    wanted = list(dict.fromkeys(int(i) for i in ids))
    found = set(model._default_manager.filter(pk__in=wanted).values_list("pk", flat=True))
    missing = [i for i in wanted if i not in found]
    if missing:
        raise NotFoundError(f"{label} not found.", details={"missing": missing})
    return wanted


# ---------------------------------------------------------------------------------------------------------------
# Stars, ratings, plays
# ---------------------------------------------------------------------------------------------------------------
@transaction.atomic
def star_set(*, user: User, kind: AnnotatedKind, ids: Iterable[int], starred: bool) -> None:
    """Star or unstar items; starring keeps the first star's time, so 'starred since' stays meaningful."""
    model, annotation = _kind_models(kind)
    item_ids = _ids_require(model, ids, kind.capitalize())
    if not item_ids:
        return
    rows = annotation._default_manager.filter(user=user, **{f"{kind}_id__in": item_ids})
    if not starred:
        rows.update(starred_at=None)
        return
    annotation._default_manager.bulk_create(
        [annotation(user=user, **{f"{kind}_id": item_id}) for item_id in item_ids], ignore_conflicts=True
    )
    rows.filter(starred_at__isnull=True).update(starred_at=timezone.now())


@transaction.atomic
def rating_set(*, user: User, kind: AnnotatedKind, item_id: int, rating: int) -> None:
    """Set a 1-5 rating; 0 clears it."""
    model, annotation = _kind_models(kind)
    if isinstance(rating, bool) or not isinstance(rating, int) or not 0 <= rating <= 5:
        raise InvalidInputError("A rating is an integer from 0 (none) to 5.", details={"rating": rating})
    _ids_require(model, [item_id], kind.capitalize())
    lookup: dict[str, Any] = {"user": user, f"{kind}_id": item_id}
    annotation._default_manager.update_or_create(defaults={"rating": rating}, **lookup)


@transaction.atomic
def play_record(
    *,
    user: User,
    track: Track,
    played_at: datetime | None = None,
    client: str = "",
    source: PlaySource = PlaySource.SCROBBLE,
) -> Play:
    """Record a completed play and bump the play counts of the track, its album and its primary artist."""
    played_at = played_at or timezone.now()
    play = Play.objects.create(user=user, track=track, played_at=played_at, client=client[:100], source=source)
    scrobbling.listen_queue(play=play)
    for kind, item_id in (("track", track.pk), ("album", track.album_id), ("artist", track.artist_id)):
        _, annotation = _ANNOTATED[kind]
        manager = annotation._default_manager
        manager.bulk_create([annotation(user=user, **{f"{kind}_id": item_id})], ignore_conflicts=True)
        # A late scrobble (older played_at) must not move last_played_at backwards.
        manager.filter(user=user, **{f"{kind}_id": item_id}).update(
            play_count=F("play_count") + 1,
            last_played_at=Case(
                When(Q(last_played_at__isnull=True) | Q(last_played_at__lt=played_at), then=Value(played_at)),
                default=F("last_played_at"),
            ),
        )
    return play


# ---------------------------------------------------------------------------------------------------------------
# Playlists: positions are 0-based and contiguous after every write
# ---------------------------------------------------------------------------------------------------------------
def _playlist_name_clean(name: str) -> str:
    cleaned = name.strip()
    if not cleaned:
        raise InvalidInputError("A playlist needs a name.", details={"field": "name"})
    if len(cleaned) > 500:
        raise InvalidInputError("The playlist name is too long.", details={"field": "name", "max_length": 500})
    return cleaned


def _playlist_edit_check(playlist: Playlist, actor: User) -> None:
    if playlist.owner_id != actor.pk:
        raise PermissionDeniedError("Only the owner can change this playlist.", details={"id": playlist.pk})
    if not actor.can_edit_playlists:
        raise PermissionDeniedError("You are not allowed to edit playlists.")


def _tracks_require(track_ids: Sequence[int]) -> list[int]:
    """Track ids in order, duplicates kept (a playlist may repeat a track), all checked to exist."""
    ids = [int(i) for i in track_ids]
    _ids_require(Track, ids, "Track")
    return ids


def _entries_write(playlist: Playlist, track_ids: list[int]) -> None:
    if len(track_ids) > PLAYLIST_MAX_ENTRIES:
        raise InvalidInputError("Too many tracks for one playlist.", details={"max": PLAYLIST_MAX_ENTRIES})
    PlaylistEntry.objects.filter(playlist=playlist).delete()
    PlaylistEntry.objects.bulk_create(
        [PlaylistEntry(playlist=playlist, track_id=track_id, position=i) for i, track_id in enumerate(track_ids)]
    )


def _entry_track_ids(playlist: Playlist) -> list[int]:
    return list(
        PlaylistEntry.objects.filter(playlist=playlist).order_by("position", "pk").values_list("track_id", flat=True)
    )


@transaction.atomic
def playlist_create(
    *, owner: User, name: str, track_ids: Sequence[int] = (), comment: str = "", is_public: bool = False
) -> Playlist:
    if not owner.can_edit_playlists:
        raise PermissionDeniedError("You are not allowed to create playlists.")
    ids = _tracks_require(track_ids)
    playlist = Playlist.objects.create(
        owner=owner, name=_playlist_name_clean(name), comment=comment, is_public=is_public
    )
    _entries_write(playlist, ids)
    return playlist


@transaction.atomic
def playlist_update(
    *,
    playlist: Playlist,
    actor: User,
    name: str | None = None,
    comment: str | None = None,
    is_public: bool | None = None,
    add_track_ids: Sequence[int] = (),
    remove_positions: Sequence[int] = (),
) -> Playlist:
    """Change fields, then remove entries by their current positions, then append tracks (Subsonic's order)."""
    _playlist_edit_check(playlist, actor)
    if name is not None:
        playlist.name = _playlist_name_clean(name)
    if comment is not None:
        playlist.comment = comment
    if is_public is not None:
        playlist.is_public = is_public
    if add_track_ids or remove_positions:
        current = _entry_track_ids(playlist)
        drop = {int(p) for p in remove_positions}
        bad = sorted(p for p in drop if not 0 <= p < len(current))
        if bad:
            raise InvalidInputError("No entry at these positions.", details={"positions": bad, "size": len(current)})
        kept = [track_id for i, track_id in enumerate(current) if i not in drop]
        _entries_write(playlist, kept + _tracks_require(add_track_ids))
    playlist.save()
    return playlist


@transaction.atomic
def playlist_tracks_replace(*, playlist: Playlist, actor: User, track_ids: Sequence[int]) -> Playlist:
    _playlist_edit_check(playlist, actor)
    _entries_write(playlist, _tracks_require(track_ids))
    # The new list replaces the songs still downloading too; whatever of them it names is referenced afresh.
    PendingReference.objects.filter(playlist=playlist).delete()
    playlist.save(update_fields=["updated_at"])
    return playlist


@transaction.atomic
def playlist_entry_move(*, playlist: Playlist, actor: User, from_position: int, to_position: int) -> Playlist:
    """Move one entry; the others shift to close the gap."""
    _playlist_edit_check(playlist, actor)
    current = _entry_track_ids(playlist)
    for label, position in (("from_position", from_position), ("to_position", to_position)):
        if not 0 <= position < len(current):
            raise InvalidInputError("No entry at this position.", details={label: position, "size": len(current)})
    current.insert(to_position, current.pop(from_position))
    _entries_write(playlist, current)
    playlist.save(update_fields=["updated_at"])
    return playlist


@transaction.atomic
def playlist_delete(*, playlist: Playlist, actor: User) -> None:
    _playlist_edit_check(playlist, actor)
    playlist.delete()


# ---------------------------------------------------------------------------------------------------------------
# Now playing, bookmarks and the saved play queue (one per user)
# ---------------------------------------------------------------------------------------------------------------
PLAY_QUEUE_MAX_ENTRIES = 5_000
SHARE_MAX_ENTRIES = 1_000


def now_playing_set(*, user: User, track: Track, player: str = "") -> None:
    """Remember what a player of `user` started just now (one row per user and player name)."""
    scrobbling.playing_now_notify(user=user, track=track, player=player)
    now = timezone.now()
    NowPlaying.objects.update_or_create(
        user=user,
        player=player[:100],
        defaults={
            "track": track,
            "started_at": now,
            "state": PlaybackState.PLAYING,
            "position_ms": 0,
            "playback_rate": 1.0,
            "reported_at": now,
            "play_counted": False,
        },
    )


# ---------------------------------------------------------------------------------------------------------------
# One play, reported twice. A player may send both reportPlayback and scrobble for the same listening; it counts
# once. The rule: a reportPlayback session (one `NowPlaying` row of a track on a player, from its first report
# until another track or a new `starting`) and a scrobble submission of the same track by the same player are the
# same play when the scrobble's time falls inside the session (from its start to one track length plus
# SAME_PLAY_SLACK after it). Scrobbles alone are never merged with each other, as before.
# ---------------------------------------------------------------------------------------------------------------
SAME_PLAY_SLACK = timedelta(minutes=1)
# A session becomes a play when it stops at least half-way through, or after four minutes (the rule of
# ListenBrainz and Last.fm, so what is counted here is what is forwarded there).
PLAY_THRESHOLD_MS = 240_000


def _session_span(track: Track) -> timedelta:
    return timedelta(milliseconds=track.duration_ms) + SAME_PLAY_SLACK


def _reached_play_threshold(track: Track, position_ms: int) -> bool:
    half = track.duration_ms // 2 if track.duration_ms else PLAY_THRESHOLD_MS
    return position_ms >= min(half, PLAY_THRESHOLD_MS)


def play_submit(*, user: User, track: Track, played_at: datetime | None = None, client: str = "") -> Play | None:
    """A scrobble submission: recorded unless it is the play a reportPlayback session of `client` already
    counted (None then)."""
    at = played_at or timezone.now()
    session_play = Play.objects.filter(
        user=user,
        track=track,
        client=client[:100],
        source=PlaySource.PLAYBACK_REPORT,
        played_at__gte=at - _session_span(track),
        played_at__lte=at + SAME_PLAY_SLACK,
    )
    if session_play.exists():
        return None
    return play_record(user=user, track=track, played_at=played_at, client=client)


@transaction.atomic
def playback_report(
    *,
    user: User,
    track: Track,
    player: str,
    state: PlaybackState,
    position_ms: int,
    playback_rate: float = 1.0,
    ignore_scrobble: bool = False,
) -> Play | None:
    """Apply one OpenSubsonic reportPlayback; returns the play it completed, if any."""
    if position_ms < 0:
        raise InvalidInputError("A playback position can't be negative.", details={"positionMs": position_ms})
    if not 0 < playback_rate <= 16:
        raise InvalidInputError("A playback rate is above 0 and at most 16.", details={"playbackRate": playback_rate})
    now = timezone.now()
    player = player[:100]
    # get_or_create: two first reports of one player at once meet on the unique constraint, not in a 500.
    session, created = NowPlaying.objects.select_for_update().get_or_create(
        user=user, player=player, defaults={"track": track, "started_at": now}
    )
    if created or session.track_id != track.pk or state == PlaybackState.STARTING:
        session.track = track
        session.started_at = now
        session.play_counted = False
        if state != PlaybackState.STOPPED:
            scrobbling.playing_now_notify(user=user, track=track, player=player)
    session.state = state
    session.position_ms = position_ms
    session.playback_rate = playback_rate
    session.reported_at = now
    play = None
    if (
        state == PlaybackState.STOPPED
        and not ignore_scrobble
        and not session.play_counted
        and _reached_play_threshold(track, position_ms)
    ):
        scrobbled = Play.objects.filter(
            user=user,
            track=track,
            client=player,
            source=PlaySource.SCROBBLE,
            played_at__gte=session.started_at - SAME_PLAY_SLACK,
            played_at__lte=now + SAME_PLAY_SLACK,
        ).exists()
        if not scrobbled:
            play = play_record(
                user=user, track=track, played_at=session.started_at, client=player, source=PlaySource.PLAYBACK_REPORT
            )
        session.play_counted = True
    session.save()
    return play


@transaction.atomic
def bookmark_save(*, user: User, track: Track, position_ms: int, comment: str = "") -> Bookmark:
    _bookmark_position_check(position_ms)
    bookmark, _ = Bookmark.objects.update_or_create(
        user=user, track=track, defaults={"position_ms": position_ms, "comment": comment}
    )
    return bookmark


def _bookmark_position_check(position_ms: int | None) -> None:
    if position_ms is None or position_ms < 0:
        raise InvalidInputError("A bookmark position can't be negative.", details={"position": position_ms})


@transaction.atomic
def bookmark_delete(*, user: User, track_id: int) -> None:
    deleted, _ = Bookmark.objects.filter(user=user, track_id=track_id).delete()
    if not deleted:
        raise NotFoundError("Bookmark not found.", details={"track_id": track_id})


@transaction.atomic
def play_queue_save(
    *, user: User, track_ids: Sequence[int], current_index: int | None, position_ms: int = 0, changed_by: str = ""
) -> PlayQueue | None:
    """Replace `user`'s saved queue; an empty list clears it (OpenSubsonic). Duplicates are kept in order."""
    ids = [int(i) for i in track_ids]
    # The new queue replaces the songs of the old one still downloading too.
    PendingReference.objects.filter(user=user, action=PendingAction.QUEUE_ENTRY).delete()
    if not ids:
        PlayQueue.objects.filter(user=user).delete()
        return None
    if len(ids) > PLAY_QUEUE_MAX_ENTRIES:
        raise InvalidInputError("The play queue is too long.", details={"max": PLAY_QUEUE_MAX_ENTRIES})
    if current_index is not None and not 0 <= current_index < len(ids):
        raise InvalidInputError("The current index is outside the queue.", details={"current_index": current_index})
    if position_ms < 0:
        raise InvalidInputError("A position can't be negative.", details={"position": position_ms})
    _ids_require(Track, ids, "Track")
    queue, _ = PlayQueue.objects.update_or_create(
        user=user,
        defaults={"current_index": current_index, "position_ms": position_ms, "changed_by": changed_by[:100]},
    )
    _queue_entries_write(queue, ids)
    return queue


# ---------------------------------------------------------------------------------------------------------------
# Public shares: the token is the only secret in the link, so it is long and random
# ---------------------------------------------------------------------------------------------------------------
def _share_edit_check(share: Share, actor: User) -> None:
    if share.owner_id != actor.pk and not actor.is_admin:
        raise PermissionDeniedError("Only the owner can change this share.", details={"id": share.pk})


@transaction.atomic
def share_create(
    *, owner: User, track_ids: Sequence[int], description: str = "", expires_at: datetime | None = None
) -> Share:
    if not owner.can_share:
        raise PermissionDeniedError("You are not allowed to share.")
    ids = list(dict.fromkeys(int(i) for i in track_ids))
    if not ids:
        raise InvalidInputError("A share needs at least one track.", details={"field": "id"})
    if len(ids) > SHARE_MAX_ENTRIES:
        raise InvalidInputError("Too many tracks for one share.", details={"max": SHARE_MAX_ENTRIES})
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidInputError("The expiry time is in the past.", details={"field": "expires"})
    _ids_require(Track, ids, "Track")
    share = Share.objects.create(
        owner=owner, token=secrets.token_urlsafe(24), description=description, expires_at=expires_at
    )
    ShareEntry.objects.bulk_create(
        [ShareEntry(share=share, track_id=track_id, position=i) for i, track_id in enumerate(ids)]
    )
    return share


@transaction.atomic
def share_update(
    *,
    share: Share,
    actor: User,
    description: str | None = None,
    expires_at: datetime | None = None,
    clear_expiry: bool = False,
) -> Share:
    """Change the description and/or expiry; `clear_expiry` makes the share permanent."""
    _share_edit_check(share, actor)
    if description is not None:
        share.description = description
    if clear_expiry:
        share.expires_at = None
    elif expires_at is not None:
        share.expires_at = expires_at
    share.save()
    return share


@transaction.atomic
def share_delete(*, share: Share, actor: User) -> None:
    _share_edit_check(share, actor)
    share.delete()


def share_visit_record(*, share: Share) -> None:
    Share.objects.filter(pk=share.pk).update(visit_count=F("visit_count") + 1, last_visited_at=timezone.now())


# ---------------------------------------------------------------------------------------------------------------
# Internet radio stations (shared by all users; admins manage them)
# ---------------------------------------------------------------------------------------------------------------
def _radio_fields_clean(*, name: str, stream_url: str, homepage_url: str) -> dict[str, str]:
    cleaned = {"name": name.strip(), "stream_url": stream_url.strip(), "homepage_url": homepage_url.strip()}
    if not cleaned["name"]:
        raise InvalidInputError("A radio station needs a name.", details={"field": "name"})
    validate = URLValidator(schemes=["http", "https"])
    for field in ("stream_url", "homepage_url"):
        if field == "homepage_url" and not cleaned[field]:
            continue
        try:
            validate(cleaned[field])
        except ValidationError:
            raise InvalidInputError("Not an http(s) URL.", details={"field": field}) from None
    return cleaned


def _radio_admin_check(actor: User) -> None:
    """The one check of who manages stations; made before the station is looked up, so that a non-admin learns
    nothing about which stations exist."""
    if not actor.is_admin:
        raise PermissionDeniedError("Only admins manage internet radio stations.")


@transaction.atomic
def radio_station_create(*, actor: User, name: str, stream_url: str, homepage_url: str = "") -> InternetRadioStation:
    _radio_admin_check(actor)
    return InternetRadioStation.objects.create(
        **_radio_fields_clean(name=name, stream_url=stream_url, homepage_url=homepage_url)
    )


@transaction.atomic
def radio_station_update(
    *, station_id: int, actor: User, name: str, stream_url: str, homepage_url: str = ""
) -> InternetRadioStation:
    _radio_admin_check(actor)
    station = radio_station_get(station_id=station_id)
    for field, value in _radio_fields_clean(name=name, stream_url=stream_url, homepage_url=homepage_url).items():
        setattr(station, field, value)
    station.save()
    return station


@transaction.atomic
def radio_station_delete(*, station_id: int, actor: User) -> None:
    _radio_admin_check(actor)
    radio_station_get(station_id=station_id).delete()


# ---------------------------------------------------------------------------------------------------------------
# References to songs not in the library yet: recorded now, made real when the download lands
# ---------------------------------------------------------------------------------------------------------------
@transaction.atomic
def pending_reference_add(
    *,
    user: User,
    source: str,
    external_id: str,
    action: PendingAction,
    rating: int | None = None,
    played_at: datetime | None = None,
    client: str = "",
    playlist: Playlist | None = None,
    position: int | None = None,
    position_ms: int | None = None,
    comment: str = "",
) -> PendingReference:
    if action == PendingAction.RATING and (rating is None or not 0 <= rating <= 5):
        raise InvalidInputError("A rating is an integer from 0 (none) to 5.", details={"rating": rating})
    if action == PendingAction.PLAYLIST_ENTRY:
        if playlist is None:
            raise InvalidInputError("A playlist entry needs its playlist.")
        _playlist_edit_check(playlist, user)
    if action == PendingAction.BOOKMARK:
        _bookmark_position_check(position_ms)
    if action in (PendingAction.STAR, PendingAction.BOOKMARK):
        # Starring twice before the download lands is one star; a user has one bookmark per song, the latest.
        existing = PendingReference.objects.filter(
            user=user, source=source, external_id=external_id, action=action
        ).first()
        if existing is not None:
            if action == PendingAction.BOOKMARK:
                existing.position_ms, existing.comment = position_ms, comment
                existing.save(update_fields=["position_ms", "comment"])
            return existing
    return PendingReference.objects.create(
        user=user,
        source=source,
        external_id=external_id,
        action=action,
        rating=rating,
        played_at=played_at or (timezone.now() if action == PendingAction.PLAY else None),
        client=client[:100],
        playlist=playlist,
        position=position,
        position_ms=position_ms,
        comment=comment,
    )


@transaction.atomic
def pending_references_drop(*, user: User, source: str, external_id: str, action: PendingAction) -> int:
    deleted, _ = PendingReference.objects.filter(
        user=user, source=source, external_id=external_id, action=action
    ).delete()
    return deleted


@transaction.atomic
def pending_references_apply(*, track: Track) -> int:
    """Make every reference waiting for `track` (by its source and source id) real, oldest first, and delete them:
    the rows are locked and deleted in one transaction, so each is applied exactly once. Returns how many."""
    pending = list(
        PendingReference.objects.select_for_update(of=("self",))
        .filter(source=track.source, external_id=track.source_id)
        .select_related("user", "playlist")
        .order_by("created_at", "pk")
    )
    for reference in pending:
        _pending_apply(reference, track)
    PendingReference.objects.filter(pk__in=[reference.pk for reference in pending]).delete()
    return len(pending)


def _pending_apply(reference: PendingReference, track: Track) -> None:
    user = reference.user
    if reference.action == PendingAction.STAR:
        star_set(user=user, kind="track", ids=[track.pk], starred=True)
    elif reference.action == PendingAction.RATING:
        rating_set(user=user, kind="track", item_id=track.pk, rating=int(reference.rating or 0))
    elif reference.action == PendingAction.PLAY:
        play_record(user=user, track=track, played_at=reference.played_at, client=reference.client)
    elif reference.action == PendingAction.PLAYLIST_ENTRY and reference.playlist is not None:
        current = _entry_track_ids(reference.playlist)
        position = len(current) if reference.position is None else min(reference.position, len(current))
        current.insert(position, track.pk)
        _entries_write(reference.playlist, current)
        reference.playlist.save(update_fields=["updated_at"])
    elif reference.action == PendingAction.QUEUE_ENTRY:
        _queue_entry_insert(user, track, reference.position)
    elif reference.action == PendingAction.BOOKMARK:
        bookmark_save(user=user, track=track, position_ms=int(reference.position_ms or 0), comment=reference.comment)


def _queue_entries_write(queue: PlayQueue, track_ids: list[int]) -> None:
    PlayQueueEntry.objects.filter(queue=queue).delete()
    PlayQueueEntry.objects.bulk_create(
        [PlayQueueEntry(queue=queue, track_id=track_id, position=i) for i, track_id in enumerate(track_ids)]
    )


def _queue_entry_insert(user: User, track: Track, position: int | None) -> None:
    """Put a downloaded song into the saved queue at its place; the current entry stays the current one."""
    queue, _ = PlayQueue.objects.select_for_update().get_or_create(user=user, defaults={"current_index": 0})
    ids = list(queue.entries.order_by("position").values_list("track_id", flat=True))
    at = len(ids) if position is None else min(position, len(ids))
    ids.insert(at, track.pk)
    if queue.current_index is not None and len(ids) > 1 and at <= queue.current_index:
        queue.current_index += 1
    _queue_entries_write(queue, ids)
    queue.save(update_fields=["current_index", "changed_at"])
