"""DownloadService: the one place that creates, claims, runs, retries, cancels and completes download jobs.

One module per concern: `requesting` (requests), `running` (claims and attempts), `pipeline` (one song's
download), `transitions` (state changes), `actions` (cancel, retry), `sweep` (recovery), `enqueueing`; and the
external catalogue that downloads feed: `catalogue` (who sees it, its items), `catalogue_search` (under a
deadline), `catalogue_actions` (what users do with its songs), `catalogue_playback` (playing a song that is not
in the library yet). Other apps import from here only.

Reliability rules, because any step may run twice or be killed half-way:
- a job is claimed by one conditional UPDATE (queued/due-retrying, or running with a stale heartbeat);
- while running it holds one of the source's concurrency slots, unique among running jobs in the database;
- work happens in a private directory on MEDIA_ROOT's filesystem, wiped at the start of every attempt;
- the library path is chosen and saved on the job *before* the file is moved there, so an attempt that died
  between the move and the commit is repaired by the next one (same path, overwritten) or by the final failure;
- the Track and the job's success are committed in one transaction, after re-checking the job is still ours;
- long waits are `next_retry_at` in the database; `download_jobs_sweep` re-sends what is due or was never sent.
"""

from downloads.selectors import source_paused_until
from downloads.services.actions import download_job_cancel, download_job_retry, download_jobs_retry_failed
from downloads.services.catalogue import (
    catalogue_album_get,
    catalogue_artist_get,
    catalogue_cover_get,
    catalogue_song_check,
    catalogue_song_get,
)
from downloads.services.catalogue_actions import (
    catalogue_song_bookmark,
    catalogue_song_bookmark_delete,
    catalogue_song_now_playing,
    catalogue_song_play,
    catalogue_song_playlist_add,
    catalogue_song_queue_add,
    catalogue_song_rate,
    catalogue_song_star,
    catalogue_song_unstar,
)
from downloads.services.catalogue_playback import catalogue_song_playback
from downloads.services.catalogue_search import CatalogueHits, catalogue_search_start
from downloads.services.requesting import (
    DownloadRequestResult,
    download_request,
    download_request_lookup,
    download_request_referencing,
)
from downloads.services.running import RunOutcome, RunStatus, download_job_run
from downloads.services.sweep import SweepReport, download_jobs_sweep
from downloads.services.transitions import collection_refresh

__all__ = [
    "CatalogueHits",
    "DownloadRequestResult",
    "RunOutcome",
    "RunStatus",
    "SweepReport",
    "catalogue_album_get",
    "catalogue_artist_get",
    "catalogue_cover_get",
    "catalogue_search_start",
    "catalogue_song_bookmark",
    "catalogue_song_bookmark_delete",
    "catalogue_song_check",
    "catalogue_song_get",
    "catalogue_song_now_playing",
    "catalogue_song_play",
    "catalogue_song_playback",
    "catalogue_song_playlist_add",
    "catalogue_song_queue_add",
    "catalogue_song_rate",
    "catalogue_song_star",
    "catalogue_song_unstar",
    "collection_refresh",
    "download_job_cancel",
    "download_job_retry",
    "download_job_run",
    "download_jobs_retry_failed",
    "download_jobs_sweep",
    "download_request",
    "download_request_lookup",
    "download_request_referencing",
    "source_paused_until",
]
