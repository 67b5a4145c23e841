"""Scrobble forwarding to ListenBrainz: what a play or a "now playing" becomes there, and how it gets there.

A counted play is queued as a `PendingListen` in the transaction that records it, and sent by a Celery task after
commit, so the player never waits for ListenBrainz. The task retries with backoff; what it can't send stays in the
table for the periodic sweep, so a down service or a lost worker never loses a listen. "Now playing" notices are
fire-and-forget: a late one is worthless, so they are neither stored nor resent.

Last.fm is not forwarded: its authorisation is a browser round trip that can't be tested offline here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from celery import current_app
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from accounts import listenbrainz
from accounts import services as account_services
from accounts.models import ListenBrainzLink, User
from library.models import PendingListen, Play, Track

logger = logging.getLogger(__name__)

SUBMITTER = "mcma"
# Backoff of the task's own retries (seconds: 30, 60, 120 … capped); past them the sweep takes over.
RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 3600
TASK_RETRIES = 5
SWEEP_BATCH = 500
LISTEN_SUBMIT_TASK = "library.listen_submit"
PLAYING_NOW_TASK = "library.playing_now_submit"


def _connected(user_id: int) -> bool:
    return ListenBrainzLink.objects.filter(user_id=user_id).exists()


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


# ---------------------------------------------------------------------------------------------------------------
# Queueing (called by library.services when a play is counted or a player starts a song)
# ---------------------------------------------------------------------------------------------------------------
def listen_queue(*, play: Play) -> None:
    """Queue `play` for ListenBrainz if its user is connected; it is sent once the play is committed."""
    if not _connected(play.user_id):
        return
    pending = PendingListen.objects.create(play=play, next_attempt_at=timezone.now())
    transaction.on_commit(lambda: _send(LISTEN_SUBMIT_TASK, pending.pk))


def playing_now_notify(*, user: User, track: Track, player: str) -> None:
    if _connected(user.pk):
        transaction.on_commit(lambda: _send(PLAYING_NOW_TASK, user.pk, track.pk, player))


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
    """Send one queued listen. Sent → the row goes; a refused token → the user is told and the row waits for a new
    one; the service down → the row is kept with its next attempt time and the caller told when to retry."""
    pending = PendingListen.objects.select_related("play__track__album", "play__track__artist").filter(pk=pending_id)
    row = pending.first()
    if row is None:  # sent by a concurrent attempt, or the play was deleted
        return SubmitOutcome(sent=False)
    play = row.play
    token = account_services.listenbrainz_token_for(user_id=play.user_id)
    if token is None:
        return _postpone(row, "no valid ListenBrainz token", retry=False)
    listen = _listen(play.track, player=play.client, listened_at=int(play.played_at.timestamp()))
    try:
        listenbrainz.listens_submit(token=token, listen_type="single", listens=[listen])
    except listenbrainz.ListenBrainzTokenRejectedError:
        account_services.listenbrainz_token_reject(user_id=play.user_id)
        return _postpone(row, "token refused", retry=False)
    except listenbrainz.ListenBrainzRefusedError as exc:
        # ListenBrainz will never take this one (e.g. a listen older than it accepts): keeping it would block
        # nothing but would be resent forever.
        logger.warning("listenbrainz refused listen of play %s for good: %s", play.pk, exc)
        row.delete()
        return SubmitOutcome(sent=False)
    except listenbrainz.ListenBrainzUnavailableError as exc:
        return _postpone(row, str(exc), retry=True)
    row.delete()
    return SubmitOutcome(sent=True)


def _postpone(row: PendingListen, reason: str, *, retry: bool) -> SubmitOutcome:
    """Keep the listen. Without a usable token it is due at once: the sweep skips it until a new token is set."""
    row.attempts += 1
    delay = _backoff(row.attempts)
    row.next_attempt_at = timezone.now() + timedelta(seconds=delay if retry else 0)
    row.last_error = reason[:200]
    row.save(update_fields=["attempts", "next_attempt_at", "last_error"])
    return SubmitOutcome(sent=False, retry_in=delay if retry else None)


def playing_now_submit(*, user_id: int, track_id: int, player: str) -> SubmitOutcome:
    token = account_services.listenbrainz_token_for(user_id=user_id)
    track = Track.objects.select_related("album", "artist").filter(pk=track_id).first()
    if token is None or track is None:
        return SubmitOutcome(sent=False)
    try:
        listenbrainz.listens_submit(token=token, listen_type="playing_now", listens=[_listen(track, player=player)])
    except listenbrainz.ListenBrainzTokenRejectedError:
        account_services.listenbrainz_token_reject(user_id=user_id)
        return SubmitOutcome(sent=False)
    except (listenbrainz.ListenBrainzUnavailableError, listenbrainz.ListenBrainzRefusedError) as exc:
        logger.info("listenbrainz playing_now dropped: user=%s: %s", user_id, exc)
        return SubmitOutcome(sent=False)
    return SubmitOutcome(sent=True)


def listens_sweep() -> int:
    """Periodic: resend the queued listens that are due and whose user has a valid token; returns how many."""
    due = list(
        PendingListen.objects.filter(
            next_attempt_at__lte=timezone.now(),
            play__user__listenbrainz__rejected_at__isnull=True,
            play__user__listenbrainz__isnull=False,
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    for pending_id in due:
        _send(LISTEN_SUBMIT_TASK, pending_id)
    return len(due)
