"""library.ingest: identity rules for artists/albums/tracks, credits, denormalised counts and covers."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from django.db import IntegrityError, models, transaction

from library import storage
from library.ingest import identity, insert
from library.ingest.covers import album_cover_store, album_covers_store
from library.ingest.identity import VARIOUS_ARTISTS_MBID, ResolveCache, relations_resolve
from library.ingest.refresh import albums_refresh
from library.ingest.rows import TrackFile, track_upsert, tracks_save
from library.models import Album, Artist, ArtistRole, Genre, Track
from library.tags import TrackTags

pytestmark = pytest.mark.django_db

BASE = TrackTags(
    title="Song",
    artists=("Band", "Guest"),
    featured_artists=("Guest",),
    artist_display="Band feat. Guest",
    album="Record",
    album_artist="Band",
    track_number=1,
    year=2001,
    genres=("Rock", "Blues"),
    duration_ms=200_000,
    codec="mp3",
    suffix="mp3",
    content_type="audio/mpeg",
)


def _upsert(source_id: str, tags: TrackTags = BASE, **extra: object) -> tuple[Track, bool]:
    fields: dict[str, object] = {
        "source": "local",
        "source_id": source_id,
        "tags": tags,
        "stored_path": f"lib/{source_id}",
        "size_bytes": 1000,
        "checksum": "c" * 64,
    }
    fields.update(extra)
    cache = fields.pop("cache", None)
    if cache is None:
        return track_upsert(**fields)  # type: ignore[arg-type]
    file = TrackFile(**{name: value for name, value in fields.items() if name != "source"})  # type: ignore[arg-type]
    (saved,) = tracks_save(source="local", files=[file], cache=cache)  # type: ignore[arg-type]
    return Track.objects.get(pk=saved.pk), saved.created


def _artist(name: str, musicbrainz_id: str = "") -> Artist:
    """The artist row a track by `name` files under."""
    tags = TrackTags(title="t", artists=(name,), musicbrainz_album_artist_id=musicbrainz_id)
    (rel,) = relations_resolve([tags], cache=ResolveCache())
    return rel.credits[0][0]


def test_creates_artists_album_genres_and_credits() -> None:
    track, created = _upsert("a/1.mp3")

    assert created
    assert track.title == "Song"
    assert track.artist.name == "Band"
    assert track.artist_display == "Band feat. Guest"
    assert track.album.name == "Record"
    assert track.album.album_artist == track.artist
    assert sorted(g.name for g in track.genres.all()) == ["Blues", "Rock"]
    credits = [(c.artist.name, c.role, c.position) for c in track.artist_credits.select_related("artist")]
    assert credits == [("Band", ArtistRole.PRIMARY, 0), ("Guest", ArtistRole.FEATURED, 1)]
    assert track.metadata_status == "pending"
    assert not track.is_missing


def test_upsert_is_idempotent_and_updates_in_place() -> None:
    first, _ = _upsert("a/1.mp3")

    second, created = _upsert("a/1.mp3", replace(BASE, title="Song (Remastered)", genres=("Rock",)))

    assert not created
    assert second.pk == first.pk
    assert Track.objects.count() == 1
    assert Artist.objects.filter(name_key="band").count() == 1
    second.refresh_from_db()
    assert second.title == "Song (Remastered)"
    assert [g.name for g in second.genres.all()] == ["Rock"]
    assert second.artist_credits.count() == 2


def test_same_album_across_discs_and_folders_is_one_album() -> None:
    _upsert("Record/Disc 1/01.mp3", replace(BASE, disc_number=1, disc_total=2))
    _upsert("Record/Disc 2/01.mp3", replace(BASE, disc_number=2, disc_total=2, title="Other"))

    album = Album.objects.get()
    albums_refresh([album.pk])
    album.refresh_from_db()

    assert album.track_count == 2
    assert album.disc_count == 2
    assert album.duration_ms == 400_000
    assert album.size_bytes == 2000
    assert sorted(g.name for g in album.genres.all()) == ["Blues", "Rock"]
    band = Artist.objects.get(name_key="band")
    assert (band.album_count, band.track_count) == (1, 2)


def test_compilation_files_under_various_artists() -> None:
    tags = TrackTags(title="Hit", artists=("Singer",), album="Now 1", compilation=True)
    other = TrackTags(title="Hit 2", artists=("Other Singer",), album="Now 1", compilation=True)

    first, _ = _upsert("c/1.mp3", tags)
    second, _ = _upsert("c/2.mp3", other)

    assert first.album_id == second.album_id
    album = Album.objects.select_related("album_artist").get()
    assert album.is_compilation
    assert album.album_artist.name == storage.VARIOUS_ARTISTS
    assert album.album_artist.musicbrainz_id == VARIOUS_ARTISTS_MBID
    assert {first.artist.name, second.artist.name} == {"Singer", "Other Singer"}


def test_album_identity_uses_release_id_when_present() -> None:
    a = replace(BASE, musicbrainz_release_id="11111111-1111-1111-1111-111111111111")
    b = replace(BASE, musicbrainz_release_id="22222222-2222-2222-2222-222222222222")

    untagged, _ = _upsert("x/0.mp3")  # no release id yet: the first release id adopts this album
    first, _ = _upsert("x/1.mp3", a)
    second, _ = _upsert("x/2.mp3", b)
    third, _ = _upsert("x/3.mp3")  # no release id: joins an existing album rather than making a third

    assert first.album_id == untagged.album_id
    assert first.album_id != second.album_id
    assert third.album_id in {first.album_id, second.album_id}
    assert Album.objects.count() == 2


def test_same_album_name_by_different_artists_is_two_albums() -> None:
    _upsert("g/1.mp3", replace(BASE, album="Greatest Hits", album_artist="Band"))
    _upsert("g/2.mp3", replace(BASE, album="Greatest Hits", album_artist="Other Band", artists=("Other Band",)))

    assert Album.objects.filter(name_key="greatest hits").count() == 2


def test_artist_names_fold_case_and_accents() -> None:
    one = _artist("Beyoncé")
    two = _artist("  BEYONCE ")
    tagged = _artist("beyonce", musicbrainz_id="859d0860-d480-4efd-970c-c05d5f1776b8")

    assert one.pk == two.pk == tagged.pk
    tagged.refresh_from_db()
    assert tagged.musicbrainz_id == "859d0860-d480-4efd-970c-c05d5f1776b8"
    assert tagged.name == "Beyoncé"


def test_missing_tags_fall_back_to_unknown_entries() -> None:
    track, _ = _upsert("u/1.mp3", TrackTags(title="", suffix="mp3"))

    assert track.title == "Untitled"
    assert track.artist.name == storage.UNKNOWN_ARTIST
    assert track.album.name == storage.UNKNOWN_ALBUM


def test_refresh_ignores_missing_tracks() -> None:
    kept, _ = _upsert("m/1.mp3")
    gone, _ = _upsert("m/2.mp3", replace(BASE, title="Gone", genres=("Jazz",)))
    Track.objects.filter(pk=gone.pk).update(is_missing=True)

    albums_refresh([kept.album_id])

    album = Album.objects.get(pk=kept.album_id)
    assert album.track_count == 1
    assert sorted(g.name for g in album.genres.all()) == ["Blues", "Rock"]
    assert Genre.objects.filter(name="Jazz").exists()


def test_album_cover_is_stored_once() -> None:
    track, _ = _upsert("cv/1.mp3")
    album = track.album

    album_cover_store(album=album, image=b"\x89PNG first", mime="image/png", origin="embedded")
    album.refresh_from_db()
    first_path = album.cover_path
    album_cover_store(album=album, image=b"\xff\xd8\xff second", mime="image/jpeg", origin="folder")
    album.refresh_from_db()

    assert first_path == f"covers/albums/{album.pk}.png"
    assert album.cover_path == first_path
    assert storage.media_path(first_path).read_bytes() == b"\x89PNG first"


def test_album_covers_store_sets_many_at_once_and_the_first_writer_wins() -> None:
    albums = [_upsert(f"cv/{n}.mp3", replace(BASE, album=f"Album {n}"))[0].album for n in range(3)]
    Album.objects.filter(pk=albums[1].pk).update(cover_path="covers/elsewhere.jpg")  # a concurrent scan won
    stale = albums[2]
    stale.cover_path = "covers/albums/gone.jpg"  # its row still says so, but the file is gone
    Album.objects.filter(pk=stale.pk).update(cover_path=stale.cover_path)

    written = album_covers_store([(album, b"\x89PNG", "image/png", "folder") for album in albums])

    assert written == 3
    paths = dict(Album.objects.filter(pk__in=[a.pk for a in albums]).values_list("pk", "cover_path"))
    assert paths == {
        albums[0].pk: f"covers/albums/{albums[0].pk}.png",
        albums[1].pk: "covers/elsewhere.jpg",
        albums[2].pk: f"covers/albums/{albums[2].pk}.png",
    }
    assert [a.cover_path for a in albums] == [paths[albums[0].pk], "", paths[albums[2].pk]]


def test_long_and_odd_values_are_clipped_not_fatal() -> None:
    tags = replace(BASE, title="t" * 2000, album="a" * 900, artists=("x" * 800,), codec="c" * 100, isrc="")

    track, _ = _upsert("long/1.mp3", tags)

    track.refresh_from_db()
    assert len(track.title) == 500
    assert len(track.album.name) == 500
    assert len(track.artist.name) == 500


def test_tracks_save_inserts_a_batch_in_a_few_queries(django_assert_max_num_queries: Any) -> None:
    cache = ResolveCache()
    _upsert("warm/0.mp3", cache=cache)  # artists, album and genres are now cached
    items = [
        TrackFile(
            source_id=f"bulk/{n}.mp3",
            tags=replace(BASE, title=f"Song {n}"),
            stored_path=f"lib/{n}.mp3",
            size_bytes=10,
            checksum="d" * 64,
        )
        for n in range(50)
    ]

    with django_assert_max_num_queries(8):
        tracks = tracks_save(source="local", files=items, cache=cache)

    assert len(tracks) == 50
    assert all(t.pk and t.created for t in tracks)
    created = Track.objects.get(source_id="bulk/7.mp3")
    assert created.title == "Song 7"
    assert sorted(g.name for g in created.genres.all()) == ["Blues", "Rock"]
    assert [c.role for c in created.artist_credits.all()] == [ArtistRole.PRIMARY, ArtistRole.FEATURED]


def test_the_plain_insert_check_accepts_the_models_it_serves_and_refuses_unknown_fields(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert insert.check_plain_insert_models(None) == []

    # As if Track.source_metadata were of a class insert_rows does not know (or a subclass of a known one).
    monkeypatch.setattr(insert, "_PLAIN_FIELD_CLASSES", insert._PLAIN_FIELD_CLASSES - {models.JSONField})
    errors = insert.check_plain_insert_models(None)
    assert {error.id for error in errors} == {"library.E001"}
    assert any("Track.source_metadata" in error.msg for error in errors)


def test_tracks_save_is_all_or_nothing() -> None:
    _upsert("dup/1.mp3")
    items = [
        TrackFile(source_id="dup/0.mp3", tags=BASE, stored_path="lib/dup0", size_bytes=1, checksum=""),
        TrackFile(source_id="dup/2.mp3", tags=BASE, stored_path="lib/dup/1.mp3", size_bytes=1, checksum=""),  # taken
    ]

    with pytest.raises(IntegrityError):
        tracks_save(source="local", files=items, cache=ResolveCache())

    assert not Track.objects.filter(source_id="dup/0.mp3").exists()


def test_resolve_cache_is_bounded_and_cleared_after_a_rollback() -> None:
    cache = ResolveCache(maxsize=2)
    for n in range(3):
        cache.put(("k", n), n)
    assert cache.get(("k", 0)) is None
    assert cache.get(("k", 2)) == 2

    _upsert("c/1.mp3", replace(BASE, album="New Album"), stored_path="lib/x", cache=cache)
    with pytest.raises(IntegrityError):
        _upsert("c/2.mp3", replace(BASE, album="New Album"), stored_path="lib/x", cache=cache)  # same path

    assert cache.get(("k", 2)) is None  # cleared: the failed savepoint may have taken rows with it


def _identities() -> dict[str, object]:
    """Every artist/album row and each track's album and credits, by names and ids rather than pks."""
    albums = {a.pk: (a.album_artist.name_key, a.name_key, a.musicbrainz_release_id) for a in Album.objects.all()}
    return {
        "artists": sorted(Artist.objects.values_list("name_key", "musicbrainz_id")),
        "albums": sorted(albums.values()),
        "tracks": sorted(
            (
                t.source_id,
                albums[t.album_id],
                tuple((c.artist.name_key, c.artist.musicbrainz_id, c.role) for c in t.artist_credits.all()),
            )
            for t in Track.objects.prefetch_related("artist_credits__artist")
        ),
    }


# One name seen with and without MusicBrainz ids in every order, and a row already known only by name.
MIXED_SIGHTINGS = [
    replace(BASE, title="untagged first"),
    replace(BASE, title="tagged", musicbrainz_release_id="rel-1", musicbrainz_album_artist_id="band-1"),
    replace(BASE, title="other release", musicbrainz_release_id="rel-2", musicbrainz_album_artist_id="band-1"),
    replace(BASE, title="untagged again"),
    replace(BASE, title="new pair", album="Second", musicbrainz_release_id="rel-3"),
    replace(BASE, title="new pair untagged", album="Second"),
    replace(BASE, title="known by name", album_artist="Known", artists=("Known",), musicbrainz_artist_id="known-1"),
    replace(BASE, title="solo", artists=("Band",), musicbrainz_artist_id="band-2"),
    replace(BASE, title="two releases", album="Third", musicbrainz_release_id="rel-9"),
    replace(BASE, title="the other", album="Third", musicbrainz_release_id="rel-8"),
    replace(BASE, title="then none", album="Third"),
    replace(BASE, title="another id", album_artist="Tagged", artists=("Tagged",), musicbrainz_album_artist_id="t-2"),
    replace(BASE, title="no id", album_artist="Tagged", artists=("Tagged", "Known")),
]


def test_tracks_save_resolves_mixed_sightings_as_one_by_one_does_in_one_pass(
    django_assert_max_num_queries: Any,
) -> None:
    _artist("Known")  # rows from an earlier scan: one known only by name, one with an id
    _artist("Tagged", musicbrainz_id="t-1")
    items = [
        TrackFile(source_id=f"mixed/{n}.mp3", tags=tags, stored_path=f"lib/m{n}", size_bytes=1, checksum="")
        for n, tags in enumerate(MIXED_SIGHTINGS)
    ]
    with transaction.atomic():
        for item in items:
            _upsert(item.source_id, item.tags, stored_path=item.stored_path)
        one_by_one = _identities()
        transaction.set_rollback(True)

    cache = ResolveCache()
    tracks_save(source="local", files=items, cache=cache)

    assert _identities() == one_by_one
    with django_assert_max_num_queries(0):  # everything the batch resolved is cached for the next batches
        relations_resolve([item.tags for item in items], cache=cache)


def test_tracks_save_takes_the_rows_a_concurrent_import_inserted_first(monkeypatch: pytest.MonkeyPatch) -> None:
    existing = identity._existing
    raced: list[Artist] = []

    def racing(kind: Any, groups: Any) -> Any:
        found = existing(kind, groups)
        if kind.model is Artist and not raced:
            # Another import creates the artist between this batch's lookup and its insert.
            raced.append(Artist.objects.create(name="Racer", name_key="racer", sort_name="Racer"))
        return found

    monkeypatch.setattr(identity, "_existing", racing)
    tags = replace(BASE, album_artist="Racer", artists=("Racer",))
    item = TrackFile(source_id="race/1.mp3", tags=tags, stored_path="lib/race", size_bytes=1, checksum="")

    (saved,) = tracks_save(source="local", files=[item], cache=ResolveCache())

    # The conflict rolls back the batch's savepoint (on PostgreSQL the stand-in racer with it, as it was created
    # inside); either way the batch is resolved again and files under the one Racer row.
    (racer,) = Artist.objects.filter(name_key="racer")
    assert raced
    assert Track.objects.get(pk=saved.pk).artist_id == racer.pk


def test_an_artist_given_an_id_by_a_concurrent_import_is_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    _artist("Shared")  # known only by name
    existing = identity._existing
    reads: list[Any] = []

    def racing(kind: Any, groups: Any) -> Any:
        found = existing(kind, groups)
        if kind.model is Artist:
            reads.append(found)
            if len(reads) == 1:  # another import gives the row an id between this batch's read and its write
                Artist.objects.filter(name_key="shared").update(musicbrainz_id="other-1")
        return found

    monkeypatch.setattr(identity, "_existing", racing)
    tags = replace(BASE, album_artist="Shared", artists=("Shared",), musicbrainz_album_artist_id="mine-1")

    (saved,) = tracks_save(source="local", files=[TrackFile("r/1.mp3", tags, "lib/r1", 1, "")], cache=ResolveCache())

    assert len(reads) == 2  # the write found the row changed, so the group was read and resolved again
    artist = Track.objects.select_related("album__album_artist").get(pk=saved.pk).album.album_artist
    assert Artist.objects.get(pk=artist.pk).musicbrainz_id == artist.musicbrainz_id == "mine-1"


def test_integers_out_of_the_columns_range_are_held_in_it() -> None:
    track, _ = _upsert("big/1.mp3", replace(BASE, duration_ms=-5, track_number=-1))

    track.refresh_from_db()
    assert (track.duration_ms, track.track_number) == (0, 0)


def test_a_changed_file_replaces_the_reasons_about_itself_and_keeps_those_about_other_files() -> None:
    track, _ = _upsert("sk/1.mp3")
    Track.objects.filter(pk=track.pk).update(
        metadata_skips={
            "cover": "cover.jpg: the picture is not a readable image",
            "lyrics.lrc": "01.lrc is binary, not text",
            "replaygain_analysis": "ffmpeg found no audio",
            "replaygain_track_gain": "+99.00 dB is outside ±64 dB, so not a real ReplayGain",
        }
    )

    again, created = _upsert("sk/1.mp3", replace(BASE, skipped={"replaygain_album_gain": "not a number"}))

    assert created is False
    assert Track.objects.get(pk=again.pk).metadata_skips == {
        "cover": "cover.jpg: the picture is not a readable image",
        "lyrics.lrc": "01.lrc is binary, not text",
        "replaygain_album_gain": "not a number",
    }
