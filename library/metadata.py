"""The metadata sweep: what the library fills in after an import, in Celery tasks sent by name (LRCLIB lyrics for
songs with none, ReplayGain for songs without, Cover Art Archive covers for albums without), each only when its
setting allows."""

from __future__ import annotations

import logging

from celery import current_app
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from library import coverartarchive, covers, lyrics, replaygain
from library.ingest.covers import album_covers_store, cover_origins_below, cover_replaceable
from library.models import Album
from library.remote import RemoteMalformedError, RemoteRefusedError
from library.tags import image_mime

logger = logging.getLogger(__name__)


def metadata_sweep() -> dict[str, int]:
    """Send one task per due item; returns how many of each were sent."""
    sent = {"lrclib": 0, "replaygain": 0, "caa": 0}
    if settings.LRCLIB_ENABLED and "lrclib" in settings.LYRICS_PRIORITY:
        for track_id in lyrics.lrclib_pending():
            current_app.send_task("library.lyrics_lrclib_fetch", args=[track_id])
            sent["lrclib"] += 1
    if settings.REPLAYGAIN_ANALYSIS:
        for album_id in replaygain.replaygain_pending_albums():
            current_app.send_task("library.album_replaygain_analyse", args=[album_id])
            sent["replaygain"] += 1
    if "caa" in settings.COVER_ART_PRIORITY:
        for album_id in cover_archive_pending():
            current_app.send_task("library.album_cover_archive_fetch", args=[album_id])
            sent["caa"] += 1
    return sent


# ---------------------------------------------------------------------------------------------------------------
# Covers from the Cover Art Archive
# ---------------------------------------------------------------------------------------------------------------
COVER_BATCH = 50


def cover_archive_pending(*, limit: int = COVER_BATCH) -> list[int]:
    """Albums with no cover or one from an origin ranked below the archive (a download's thumbnail by default),
    a MusicBrainz release id and no answer from the archive yet."""
    return list(
        Album.objects.filter(Q(cover_path="") | Q(cover_source__in=cover_origins_below("caa")))
        .filter(cover_archive_checked_at__isnull=True)
        .exclude(musicbrainz_release_id="")
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


def album_cover_archive_fetch(*, album_id: int) -> bool:
    """Give the album the archive's front cover if it still has none or a worse ranked one; True when one was
    stored. An answer that is not a usable image counts as "no cover" (logged with why), so it is not asked for
    again; `CoverArchiveUnavailableError` when the archive could not answer: the caller retries later."""
    album = Album.objects.filter(pk=album_id).first()
    if album is None or not album.musicbrainz_release_id or not cover_replaceable(album, "caa"):
        return False
    try:
        found = coverartarchive.release_front(album.musicbrainz_release_id)
    # e.g. 400 for a malformed release id, or an image over the size limit: asking again will not help
    except (RemoteRefusedError, RemoteMalformedError) as exc:
        found, problem = None, str(exc)
    else:
        problem = "the archive has no front cover" if found is None else covers.image_problem(found[0])
    if found is None or problem:
        logger.info("Cover Art Archive cover of album %s not used: %s", album_id, problem)
        Album.objects.filter(pk=album_id).update(cover_archive_checked_at=timezone.now())
        return False
    stored = album_covers_store([(album, found[0], image_mime(found[0]), "caa")]) > 0
    Album.objects.filter(pk=album_id).update(cover_archive_checked_at=timezone.now())
    return stored
