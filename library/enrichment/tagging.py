"""Writing identified values back into the managed file (METADATA_WRITE_TAGS), atomically.

The file's own tags are read, the fields identification owns are replaced by the track's current values, and the
result is written into a temp copy that replaces the file in one rename (library.storage.file_rewrite).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from library import storage
from library.models import Track
from library.tags import UnreadableAudioError, read_tags, write_tags

logger = logging.getLogger(__name__)


def track_tags_write(*, track_id: int) -> bool:
    """Write the track's identified values into its file; False (logged, nothing changed) when it cannot."""
    track = Track.objects.select_related("album__album_artist", "artist").filter(pk=track_id).first()
    if track is None or track.is_missing:
        return False

    def edit(path: Path) -> None:
        current = read_tags(path)
        credited = [credit.artist.name for credit in track.artist_credits.select_related("artist")]
        wanted = dataclasses.replace(
            current,
            title=track.title,
            artists=credited or [track.artist.name],
            artist_display=track.artist_display,
            album=track.album.name,
            album_artist=track.album.album_artist.name,
            track_number=track.track_number,
            disc_number=track.disc_number,
            date=track.date,
            year=track.year,
            genres=list(track.genres.values_list("name", flat=True)),
            isrc=track.isrc,
            musicbrainz_recording_id=track.musicbrainz_recording_id,
            musicbrainz_track_id=track.musicbrainz_track_id,
            musicbrainz_release_id=track.musicbrainz_release_id,
            musicbrainz_release_group_id=track.album.musicbrainz_release_group_id,
            musicbrainz_artist_id=track.musicbrainz_artist_id,
            musicbrainz_album_artist_id=track.musicbrainz_album_artist_id,
        )
        write_tags(path, wanted, cover=current.cover, cover_mime=current.cover_mime)

    try:
        path = storage.file_rewrite(track.path, edit)
    except (UnreadableAudioError, OSError) as exc:
        logger.warning("track %s: identified tags not written to its file: %s", track_id, exc)
        return False
    Track.objects.filter(pk=track_id).update(size_bytes=path.stat().st_size, checksum=storage.file_checksum(path))
    return True
