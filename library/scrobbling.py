"""Scrobble forwarding to ListenBrainz and Last.fm: what a play or a "now playing" becomes there, and how it gets
there.

A counted play is queued as a `PendingListen` per service the user is connected to, in the transaction that
records it, and sent by a Celery task after commit, so the player never waits for a service. The task retries with
backoff; what it can't send stays in the table for the periodic sweep, so a down service or a lost worker never
loses a listen. "Now playing" notices are fire-and-forget: a late one is worthless, so they are neither stored nor
resent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from celery import current_app
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from accounts import lastfm, listenbrainz
from accounts import services as account_services
from accounts.models import LastFmLink, ListenBrainzLink, User
from library.models import PendingListen, Play, ScrobbleService, Track

logger = logging.getLogger(__name__)

SUBMITTER = "mcma"
# Backoff of the task's own retries (seconds: 30, 60, 120 … capped); past them the sweep takes over.
RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 3600
TASK_RETRIES = 5
SWEEP_BATCH = 500
LISTEN_SUBMIT_TASK = "library.listen_submit"
PLAYING_NOW_TASK = "library.playing_now_submit"


def _track_metadata(track: Track) -> dict[str, Any]:
    info: dict[str, Any] = {
        "submission_client": SUBMITTER,
        "media_player": "",
        "duration_ms": track.duration_ms or None,
        "tracknumber": track.track_number,
        "recording_mbid": track.musicbrainz_recording_id or None,
        "release_mbid": track.musicbrainz_release_id or track.album.musicbrainz_release_id or None,
        "release_group_mbid": track.album.musicbrainz_release_group_id or None,
        "track_mbid": track.musicbrainz_track_id or None,
        "artist_mbids": [track.musicbrainz_artist_id] if track.musicbrainz_artist_id else None,
        "isrc": track.isrc or None,
    }
    return {
        "artist_name": track.artist_display or track.artist.name,
        "track_name": track.title,
        "release_name": track.album.name,
        "additional_info": {key: value for key, value in info.items() if value not in (None, "")},
    }


def _listen(track: Track, *, player: str, listened_at: int | None = None) -> dict[str, Any]:
    metadata = _track_metadata(track)
    if player:
        metadata["additional_info"]["media_player"] = player
    listen: dict[str, Any] = {"track_metadata": metadata}
    if listened_at is not None:
        listen["listened_at"] = listened_at
    return listen


def _lastfm_track(track: Track) -> lastfm.TrackInfo:
    return lastfm.TrackInfo(
        artist=track.artist_display or track.artist.name,
        track=track.title,
        album=track.album.name,
        album_artist=track.album.album_artist.name,
        track_number=track.track_number,
        duration_seconds=round(track.duration_ms / 1000) if track.duration_ms else None,
        mbid=track.musicbrainz_recording_id or "",
    )


@dataclass(frozen=True)
class _Destination:
    """One service: the user's credential for it, its calls, and what its door raises."""

    link: type[ListenBrainzLink | LastFmLink]  # a user's link to the service; `rejected_at` set once refused
    available: Callable[[], bool]  # the server can use the service at all
    credential_for: Callable[[int], str | None]  # user id → token or session key; None: nothing can be sent
    credential_reject: Callable[[int], None]  # the service refused it: stop until the user sets a new one
    listen_send: Callable[[str, Track, str, int], None]  # credential, track, player, started at (Unix seconds)
    playing_now_send: Callable[[str, Track, str], None]  # credential, track, player
    rejected: type[Exception]
    refused: type[Exception]  # will never take this submission
    unavailable: type[Exception]  # may take it later


def _listenbrainz_listen(token: str, track: Track, player: str, listened_at: int) -> None:
    listen = _listen(track, player=player, listened_at=listened_at)
    listenbrainz.listens_submit(token=token, listen_type="single", listens=[listen])


def _listenbrainz_playing_now(token: str, track: Track, player: str) -> None:
    listenbrainz.listens_submit(token=token, listen_type="playing_now", listens=[_listen(track, player=player)])


def _lastfm_listen(session_key: str, track: Track, _player: str, listened_at: int) -> None:
    lastfm.scrobble(session_key=session_key, track=_lastfm_track(track), timestamp=listened_at)


def _lastfm_playing_now(session_key: str, track: Track, _player: str) -> None:
    lastfm.now_playing_update(session_key=session_key, track=_lastfm_track(track))


_DESTINATIONS: dict[str, _Destination] = {
    ScrobbleService.LISTENBRAINZ: _Destination(
        link=ListenBrainzLink,
        available=lambda: True,
        credential_for=lambda user_id: account_services.listenbrainz_token_for(user_id=user_id),
        credential_reject=lambda user_id: account_services.listenbrainz_token_reject(user_id=user_id),
        listen_send=_listenbrainz_listen,
        playing_now_send=_listenbrainz_playing_now,
        rejected=listenbrainz.ListenBrainzTokenRejectedError,
        refused=listenbrainz.ListenBrainzRefusedError,
        unavailable=listenbrainz.ListenBrainzUnavailableError,
    ),
    ScrobbleService.LASTFM: _Destination(
        link=LastFmLink,
        available=lastfm.configured,
        credential_for=lambda user_id: account_services.lastfm_session_for(user_id=user_id),
        credential_reject=lambda user_id: account_services.lastfm_session_reject(user_id=user_id),
        listen_send=_lastfm_listen,
        playing_now_send=_lastfm_playing_now,
        rejected=lastfm.LastFmSessionRejectedError,
        refused=lastfm.LastFmRefusedError,
        unavailable=lastfm.LastFmUnavailableError,
    ),
}


# ---------------------------------------------------------------------------------------------------------------
# Queueing (called by library.services when a play is counted or a player starts a song)
# ---------------------------------------------------------------------------------------------------------------
def _linked(user_id: int) -> list[str]:
    """The services `user_id` is connected to (refused links too: their plays wait for a new credential)."""
    return [
        service
        for service, destination in _DESTINATIONS.items()
        if destination.available() and destination.link.objects.filter(user_id=user_id).exists()
    ]


def listen_queue(*, play: Play) -> None:
    """Queue `play` for each service its user is connected to; each is sent once the play is committed."""
    for service in _linked(play.user_id):
        pending = PendingListen.objects.create(play=play, service=service, next_attempt_at=timezone.now())
        transaction.on_commit(partial(_send, LISTEN_SUBMIT_TASK, pending.pk))


def playing_now_notify(*, user: User, track: Track, player: str) -> None:
    for service in _linked(user.pk):
        transaction.on_commit(partial(_send, PLAYING_NOW_TASK, user.pk, track.pk, player, service))


def _send(task_name: str, *args: Any) -> None:
    try:
        # Looked up by name: the task module imports this one, so this one never imports it.
        current_app.tasks[task_name].apply_async(args=args, retry=False)
    except (KombuOperationalError, OSError) as exc:
        # Never the player's problem: a listen stays in the table for the sweep, a "now playing" is let go.
        logger.warning("broker unavailable, %s not sent now: %s", task_name, exc)


# ---------------------------------------------------------------------------------------------------------------
# Sending (called by library.tasks)
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SubmitOutcome:
    sent: bool
    retry_in: float | None = None  # seconds; None: nothing more to do now


def _backoff(attempts: int) -> float:
    return float(min(RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), RETRY_MAX_SECONDS))


def listen_submit(*, pending_id: int) -> SubmitOutcome:
    """Send one queued listen. Sent → the row goes; a refused credential → the user is told and the row waits for
    a new one; the service down → the row is kept with its next attempt time and the caller told when to retry."""
    pending = PendingListen.objects.select_related("play__track__album__album_artist", "play__track__artist").filter(
        pk=pending_id
    )
    row = pending.first()
    if row is None:  # sent by a concurrent attempt, or the play was deleted
        return SubmitOutcome(sent=False)
    play = row.play
    destination = _DESTINATIONS[row.service]
    credential = destination.credential_for(play.user_id)
    if credential is None:
        return _postpone(row, f"no valid {row.get_service_display()} credential", retry=False)
    try:
        destination.listen_send(credential, play.track, play.client, int(play.played_at.timestamp()))
    except destination.rejected:
        destination.credential_reject(play.user_id)
        return _postpone(row, "credential refused", retry=False)
    except destination.refused as exc:
        # The service will never take this one (e.g. a listen older than it accepts): keeping it would block
        # nothing but would be resent forever.
        logger.warning("%s refused listen of play %s for good: %s", row.service, play.pk, exc)
        row.delete()
        return SubmitOutcome(sent=False)
    except destination.unavailable as exc:
        return _postpone(row, str(exc), retry=True)
    row.delete()
    return SubmitOutcome(sent=True)


def _postpone(row: PendingListen, reason: str, *, retry: bool) -> SubmitOutcome:
    """Keep the listen. Without a usable credential it is due at once: the sweep skips it until a new one is set."""
    row.attempts += 1
    delay = _backoff(row.attempts)
    row.next_attempt_at = timezone.now() + timedelta(seconds=delay if retry else 0)
    row.last_error = reason[:200]
    row.save(update_fields=["attempts", "next_attempt_at", "last_error"])
    return SubmitOutcome(sent=False, retry_in=delay if retry else None)


def playing_now_submit(*, user_id: int, track_id: int, player: str, service: str) -> SubmitOutcome:
    destination = _DESTINATIONS[service]
    credential = destination.credential_for(user_id)
    track = Track.objects.select_related("album__album_artist", "artist").filter(pk=track_id).first()
    if credential is None or track is None:
        return SubmitOutcome(sent=False)
    try:
        destination.playing_now_send(credential, track, player)
    except destination.rejected:
        destination.credential_reject(user_id)
        return SubmitOutcome(sent=False)
    except (destination.unavailable, destination.refused) as exc:
        logger.info("%s playing_now dropped: user=%s: %s", service, user_id, exc)
        return SubmitOutcome(sent=False)
    return SubmitOutcome(sent=True)


def listens_sweep() -> int:
    """Periodic: resend the queued listens that are due and whose user has a usable credential; returns how many."""
    usable = Q(pk__in=[])
    for service, destination in _DESTINATIONS.items():
        if destination.available():
            users = destination.link.objects.filter(rejected_at__isnull=True).values("user_id")
            usable |= Q(service=service, play__user__in=users)
    due = list(
        PendingListen.objects.filter(usable, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    for pending_id in due:
        _send(LISTEN_SUBMIT_TASK, pending_id)
    return len(due)
