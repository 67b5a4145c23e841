"""Album and artist counts recomputed from their tracks, in set-based SQL."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection
from django.db.models import Model

from library.models import Album, Artist, Track

# Albums per statement: far below SQLite's limit of bound parameters, even with the ids bound twice.
_REFRESH_CHUNK = 2000


def albums_refresh(album_ids: Iterable[int]) -> None:
    """Recompute the counts, duration, size, discs, year and genres of these albums from their present tracks,
    then their artists' counts: four set-based statements for any number of albums, no rows through Python.

    Plain SQL (the standard subset PostgreSQL and SQLite share): built through the ORM, these correlated
    subqueries cost more to compile than to run, and an import refreshes after every batch."""
    ids = sorted(set(album_ids))
    for start in range(0, len(ids), _REFRESH_CHUNK):
        _albums_refresh(ids[start : start + _REFRESH_CHUNK])


def _albums_refresh(ids: list[int]) -> None:
    album, track = _table(Album), _table(Track)
    album_genres, track_genres = _table(Album.genres.through), _table(Track.genres.through)
    marks = ", ".join(["%s"] * len(ids))
    # Only quoted table names from the models' metadata and placeholders are formatted in; values are bound.
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {album} SET (track_count, duration_ms, size_bytes, disc_count, year) = ("  # noqa: S608
            " SELECT COUNT(*), COALESCE(SUM(t.duration_ms), 0), COALESCE(SUM(t.size_bytes), 0),"
            "  CASE WHEN MAX(t.disc_number) > 1 THEN MAX(t.disc_number) ELSE 1 END,"
            # A year of 0 or no year at all keeps the album's own.
            f"  COALESCE(NULLIF(MIN(t.year), 0), {album}.year)"
            f" FROM {track} t WHERE t.album_id = {album}.id AND NOT t.is_missing"
            f") WHERE id IN ({marks})",
            ids,
        )
        # Album genres = the union of its present tracks' genres.
        cursor.execute(f"DELETE FROM {album_genres} WHERE album_id IN ({marks})", ids)  # noqa: S608
        cursor.execute(
            f"INSERT INTO {album_genres} (album_id, genre_id)"  # noqa: S608
            f" SELECT DISTINCT t.album_id, tg.genre_id FROM {track_genres} tg JOIN {track} t ON t.id = tg.track_id"
            f" WHERE t.album_id IN ({marks}) AND NOT t.is_missing",
            ids,
        )
    artists = f"SELECT album_artist_id FROM {album} WHERE id IN ({marks})"  # noqa: S608
    artists += f" UNION SELECT artist_id FROM {track} WHERE album_id IN ({marks})"  # noqa: S608
    _artists_refresh(artists, [*ids, *ids])


def artists_refresh(artist_ids: Iterable[int]) -> None:
    """Recompute these artists' album and track counts (an artist a track left keeps no album of it)."""
    ids = sorted(set(artist_ids))
    for start in range(0, len(ids), _REFRESH_CHUNK):
        chunk = ids[start : start + _REFRESH_CHUNK]
        _artists_refresh(", ".join(["%s"] * len(chunk)), chunk)


def _artists_refresh(which: str, params: list[int]) -> None:
    """`which`: the ids to refresh, as SQL (a list of placeholders or a subquery) over `params`."""
    album, track, artist = _table(Album), _table(Track), _table(Artist)
    # Two correlated counts rather than one join of both: that would multiply albums by tracks, and
    # "Various Artists" alone can have thousands of each.
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {artist} SET"  # noqa: S608
            f" album_count = (SELECT COUNT(*) FROM {album} a WHERE a.album_artist_id = {artist}.id"
            "  AND a.track_count > 0),"
            f" track_count = (SELECT COUNT(*) FROM {track} t WHERE t.artist_id = {artist}.id AND NOT t.is_missing)"
            f" WHERE id IN ({which})",
            params,
        )


def _table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)
