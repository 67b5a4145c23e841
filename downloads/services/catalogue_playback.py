"""Playing an external song: the download is the fetch; its bytes are relayed while they arrive, else the track
is waited for, each in a bounded number of places per process and for a bounded time."""

from __future__ import annotations

import threading
import time
from typing import Any

from django.conf import settings

from accounts.models import User
from downloads.errors import DownloadEndedError, StillDownloadingError
from downloads.models import JobState
from downloads.relay import ArrivingMedia, arriving_media_open
from downloads.selectors import download_job_state
from downloads.services.catalogue import catalogue_song_check
from downloads.services.requesting import download_request_referencing
from library.models import Track
from library.selectors import track_get, track_pk_by_source
from sources.base import ExternalItem

_POLL_SECONDS = 0.2


class _Places:
    """A per-process bound on requests held by external songs' downloads (the setting named, read on each take)."""

    def __init__(self, setting: str) -> None:
        self._setting = setting
        self._lock = threading.Lock()
        self._taken = 0

    def take(self) -> bool:
        with self._lock:
            if self._taken >= getattr(settings, self._setting):
                return False
            self._taken += 1
            return True

    def release(self) -> None:
        with self._lock:
            self._taken -= 1


_relaying = _Places("EXTERNAL_STREAM_MAX_RELAYS")
_waiting = _Places("EXTERNAL_STREAM_MAX_WAITING")


def _still_downloading(item: ExternalItem) -> StillDownloadingError:
    return StillDownloadingError(f"This song is still downloading from {item.source}; try again in a moment")


def catalogue_song_playback(*, user: User, item: ExternalItem, relay: bool = True) -> Track | ArrivingMedia:
    """What plays the external song: its library track, or (`relay`) its download's bytes as they arrive.

    Requests the download, then waits up to EXTERNAL_STREAM_WAIT_SECONDS for the first of them: in one of
    EXTERNAL_STREAM_MAX_RELAYS places (kept by the relay until it is closed) or, with those taken or no `relay`,
    one of EXTERNAL_STREAM_MAX_WAITING places that wait for the track only. With none free, or past the wait, the
    answer is "still downloading" (the player retries; the job goes on)."""
    catalogue_song_check(user=user, item=item)
    result = download_request_referencing(user=user, source=item.source, external_id=item.external_id)
    pk = track_pk_by_source(source=item.source, source_id=item.external_id)
    if pk is not None:
        return track_get(track_id=pk)
    job_id = result.job.pk if result.job is not None else None
    relay = relay and job_id is not None and _relaying.take()
    places = _relaying if relay else _waiting
    if not relay and not places.take():
        raise _still_downloading(item)
    found: Track | ArrivingMedia | None = None
    try:
        found = _wait_for_playback(item, job_id, relay=relay)
        if isinstance(found, ArrivingMedia):
            found.when_closed(places.release)
        return found
    finally:
        if not isinstance(found, ArrivingMedia):
            places.release()


def _wait_for_playback(item: ExternalItem, job_id: Any, *, relay: bool) -> Track | ArrivingMedia:
    deadline = time.monotonic() + settings.EXTERNAL_STREAM_WAIT_SECONDS
    while True:
        pk = track_pk_by_source(source=item.source, source_id=item.external_id)
        if pk is not None:
            return track_get(track_id=pk)
        if job_id is not None:
            state, error = download_job_state(job_id=job_id)
            if state in (JobState.FAILED, JobState.CANCELLED):
                raise DownloadEndedError(f"The download of this song {state}: {error or 'no reason given'}")
            if state == JobState.RETRYING:  # it will not be back within the wait: say why now
                raise StillDownloadingError(f"The download of this song will be retried later: {error}")
            if relay and (arriving := arriving_media_open(job_id=job_id)) is not None:
                return arriving
        if time.monotonic() >= deadline:
            raise _still_downloading(item)
        time.sleep(_POLL_SECONDS)
