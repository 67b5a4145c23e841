"""The scan pipeline end to end on real files: counts, idempotence, changes, missing files, refusals, safety."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import DatabaseError, IntegrityError

from library import storage
from library.ingest import rows
from library.models import Album, Track
from library.tags import read_tags, write_tags
from sources import services
from sources.errors import ScanAlreadyRunningError
from sources.models import ScanRun, ScanState
from sources.scan.diff import Change
from sources.scan.pipeline import ScanOptions, scan_tree
from sources.scan.read import Read, files_prepare
from sources.scan.walk import Candidate, Refusal, walk
from tests.audio import AudioMaker
from tests.sources.conftest import JPEG, album_tags

pytestmark = pytest.mark.django_db

MAKE_LIBRARY = Path("/work/shared/tools/make_library.py")


def _scan(root: Path, **options: Any) -> ScanRun:
    return services.scan_import_folder(root=root, mark_missing=options.pop("mark_missing", True), **options)


def _media_files() -> set[str]:
    media = Path(settings.MEDIA_ROOT)
    return {p.relative_to(media).as_posix() for p in media.rglob("*") if p.is_file()}


def _assert_storage_matches_tracks() -> None:
    """No file in MEDIA_ROOT without a Track (covers aside), and no Track without its file."""
    track_paths = set(Track.objects.values_list("path", flat=True))
    cover_paths = set(Album.objects.exclude(cover_path="").values_list("cover_path", flat=True))
    assert _media_files() == track_paths | cover_paths


def test_first_scan_imports_and_reports(small_library: Path) -> None:
    scan = _scan(small_library)

    assert scan.state == ScanState.SUCCEEDED
    assert (scan.found, scan.added, scan.updated, scan.unchanged) == (8, 7, 0, 0)
    assert (scan.failed, scan.skipped, scan.removed) == (1, 2, 0)
    problems = {(e["kind"], e["path"]) for e in scan.errors}
    assert ("failed", "empty.mp3") in problems
    assert ("skipped", "notes.txt") in problems
    assert ("skipped", ".hidden") in problems
    assert Track.objects.count() == 7
    _assert_storage_matches_tracks()

    double = Album.objects.get(name="Double")
    assert (double.track_count, double.disc_count) == (2, 2)
    assert double.cover_path
    hits = Album.objects.select_related("album_artist").get(name="Hits")
    assert hits.album_artist.name == "Various Artists"
    assert hits.is_compilation
    assert Album.objects.get(name="First").track_count == 3
    track = Track.objects.get(source_id="Band/First/02.flac")
    assert track.path == "Band/First (2004)/02 First 2.flac"
    assert track.source == "local"
    assert track.source_size == (small_library / "Band/First/02.flac").stat().st_size


def test_rescan_is_idempotent(small_library: Path) -> None:
    _scan(small_library)
    files_before = _media_files()
    ids_before = set(Track.objects.values_list("pk", flat=True))

    again = _scan(small_library)

    assert (again.added, again.updated, again.unchanged, again.failed) == (0, 0, 7, 1)
    assert set(Track.objects.values_list("pk", flat=True)) == ids_before
    assert _media_files() == files_before


def test_changed_file_is_updated_in_place(small_library: Path, audio_maker: AudioMaker) -> None:
    _scan(small_library)
    path = small_library / "Band/First/01.mp3"
    track = Track.objects.get(source_id="Band/First/01.mp3")
    audio_maker.make(path, "mp3", tags=album_tags("First", "Band", 1, title="Renamed"), seconds=2)
    os.utime(path, ns=(track.source_mtime_ns + 10**9, track.source_mtime_ns + 10**9))  # type: ignore[operator]

    scan = _scan(small_library)

    assert (scan.updated, scan.added) == (1, 0)
    track.refresh_from_db()
    assert track.title == "Renamed"
    assert track.duration_ms > 1500
    assert track.path == "Band/First (2004)/01 First 1.mp3"  # the stored path is stable
    assert Path(settings.MEDIA_ROOT, track.path).read_bytes() == path.read_bytes()
    _assert_storage_matches_tracks()


def test_touched_file_is_unchanged_but_rechecked(small_library: Path) -> None:
    _scan(small_library)
    path = small_library / "Band/First/02.flac"
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))

    scan = _scan(small_library)

    assert (scan.updated, scan.unchanged) == (0, 7)
    assert Track.objects.get(source_id="Band/First/02.flac").source_mtime_ns == 1_000_000_000


def test_vanished_file_is_marked_missing_then_restored(small_library: Path) -> None:
    _scan(small_library)
    path = small_library / "VA/1.opus"
    kept = path.read_bytes()
    path.unlink()

    scan = _scan(small_library)

    assert scan.removed == 1
    track = Track.objects.get(source_id="VA/1.opus")
    assert track.is_missing
    assert Path(settings.MEDIA_ROOT, track.path).exists()  # never silently deleted
    assert Album.objects.get(name="Hits").track_count == 1

    path.write_bytes(kept)
    os.utime(path, ns=(track.source_mtime_ns, track.source_mtime_ns))  # type: ignore[arg-type]
    _scan(small_library)
    track.refresh_from_db()
    assert not track.is_missing
    assert Album.objects.get(name="Hits").track_count == 2


def test_import_of_another_folder_does_not_mark_missing(small_library: Path, tmp_path: Path) -> None:
    _scan(small_library)
    other = tmp_path / "other"
    other.mkdir()

    scan = services.scan_import_folder(root=other)

    assert scan.removed == 0
    assert not Track.objects.filter(is_missing=True).exists()


def test_symlinks_leaving_the_root_are_refused(music_root: Path, audio_maker: AudioMaker, tmp_path: Path) -> None:
    outside = audio_maker.make(tmp_path / "outside.mp3", "mp3", tags={"title": "Outside"})
    (music_root / "escape.mp3").symlink_to(outside)
    (music_root / "dir-escape").symlink_to(tmp_path)
    inside = audio_maker.make(music_root / "real" / "in.mp3", "mp3", tags={"title": "Inside"})
    (music_root / "alias.mp3").symlink_to(inside)
    (music_root / "loop").symlink_to(music_root)

    scan = _scan(music_root)

    reasons = {e["path"]: e["error"] for e in scan.errors}
    assert "outside" in reasons["escape.mp3"]
    assert "outside" in reasons["dir-escape"]
    assert "folder" in reasons["loop"]
    assert set(Track.objects.values_list("source_id", flat=True)) == {"real/in.mp3", "alias.mp3"}
    assert not Track.objects.filter(title="Outside").exists()


def test_walk_refuses_names_that_are_not_utf8(music_root: Path) -> None:
    bad = os.fsencode(str(music_root)) + b"/bad-\xff.mp3"
    try:
        with open(bad, "wb") as fh:
            fh.write(b"x")
    except OSError:
        pytest.skip("this filesystem refuses non-UTF-8 names")

    entries = list(walk(music_root.resolve()))

    assert len(entries) == 1
    assert isinstance(entries[0], Refusal)
    assert "UTF-8" in entries[0].reason


def test_walk_streams_in_sorted_order(music_root: Path) -> None:
    for name in ("b/2.mp3", "a/1.flac", "a/0.ogg", "c.wma"):
        (music_root / name).parent.mkdir(parents=True, exist_ok=True)
        (music_root / name).write_bytes(b"x")

    walker = walk(music_root.resolve())

    assert not isinstance(walker, list)  # a generator: nothing is collected up front
    # A folder's files come before its subfolders, so an album's tracks stay together in one batch.
    assert [e.relative for e in walker if isinstance(e, Candidate)] == ["c.wma", "a/0.ogg", "a/1.flac", "b/2.mp3"]


def test_a_conflicting_row_fails_alone_leaves_no_orphan_file_and_is_counted(
    small_library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = rows.tracks_save

    def conflicting(**kwargs: Any) -> Any:
        if any(file.source_id == "Band/First/03.ogg" for file in kwargs["files"]):
            raise IntegrityError("UNIQUE constraint failed: library_track.path")  # e.g. a concurrent import
        return real(**kwargs)

    monkeypatch.setattr("sources.scan.store.tracks_save", conflicting)

    scan = _scan(small_library)

    assert (scan.added, scan.failed) == (6, 2)  # the conflicting row and the library's one unreadable file
    assert scan.rows_retried == 7  # the whole batch went one by one, and says so
    assert "7 tracks were saved one by one" in scan.message
    assert any(e["path"] == "Band/First/03.ogg" and "UNIQUE" in e["error"] for e in scan.errors)
    _assert_storage_matches_tracks()


def test_a_bug_in_the_row_writer_stops_the_scan_instead_of_slowing_it(
    small_library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**_kwargs: Any) -> Any:
        raise TypeError("a bug, not a conflict")

    monkeypatch.setattr("sources.scan.store.tracks_save", broken)

    scan = _scan(small_library)

    assert scan.state == ScanState.FAILED
    assert "a bug, not a conflict" in scan.message
    assert (scan.added, scan.rows_retried) == (0, 0)
    _assert_storage_matches_tracks()


def test_a_failing_batch_commit_removes_its_files(small_library: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sources.scan import store

    real_write = store._write_rows

    def failing_commit(**kwargs: Any) -> Any:
        original = store.transaction.atomic

        class Boom:
            def __enter__(self) -> None:
                return None

            def __exit__(self, *exc: object) -> bool:
                raise DatabaseError("commit failed")

        monkeypatch.setattr(store.transaction, "atomic", lambda *a, **k: Boom())
        try:
            return real_write(**kwargs)
        finally:
            monkeypatch.setattr(store.transaction, "atomic", original)

    monkeypatch.setattr(store, "_write_rows", failing_commit)

    scan = _scan(small_library)

    assert scan.added == 0
    assert scan.failed == 8
    assert _media_files() <= set(Album.objects.exclude(cover_path="").values_list("cover_path", flat=True))


def test_small_batches_give_the_same_result(small_library: Path) -> None:
    report = scan_tree(ScanOptions(source="local", root=small_library.resolve(), batch_size=2))

    assert (report.found, report.added, report.failed, report.skipped) == (8, 7, 1, 2)
    assert Album.objects.get(name="Double").disc_count == 2


def test_hardlink_mode_links_instead_of_copying(small_library: Path, settings: Any) -> None:
    settings.LOCAL_IMPORT_HARDLINK = True

    _scan(small_library)

    track = Track.objects.get(source_id="Band/First/01.mp3")
    stored = Path(settings.MEDIA_ROOT, track.path)
    assert stored.stat().st_ino == (small_library / "Band/First/01.mp3").stat().st_ino


def test_second_scan_of_a_source_is_refused_while_one_runs(small_library: Path) -> None:
    ScanRun.objects.create(source="local", root=str(small_library), state=ScanState.RUNNING)

    with pytest.raises(ScanAlreadyRunningError):
        services.scan_import_folder(root=small_library)


@pytest.mark.slow
def test_generated_library_matches_its_manifest(tmp_path: Path, settings: Any) -> None:
    out = tmp_path / "gen" / "lib"
    subprocess.run(
        [
            sys.executable,
            str(MAKE_LIBRARY),
            "--tracks",
            "40",
            "--out",
            str(out),
            "--formats",
            "mp3,flac,m4a,opus,ogg,wv",
        ],
        check=True,
        capture_output=True,
        timeout=240,
    )
    manifest = json.loads((out / "manifest.json").read_text())

    scan = services.scan_import_folder(root=out)

    assert scan.state == ScanState.SUCCEEDED
    assert scan.added == manifest["valid_tracks"] == Track.objects.count()
    reported = {e["path"] for e in scan.errors}
    for invalid in manifest["invalid"]:
        top = invalid["path"].split("/")[0] if invalid["path"].startswith(".hidden") else invalid["path"]
        if invalid["why"] == "name not UTF-8":
            assert any("name" in e["error"] and "UTF-8" in e["error"] for e in scan.errors)
        else:
            assert top in reported, invalid
    named_albums = Album.objects.exclude(name="[Unknown Album]").exclude(album_artist__name="[Unknown Artist]")
    assert named_albums.count() == manifest["albums"]
    assert Album.objects.filter(is_compilation=True).count() == manifest["compilations"]
    assert Album.objects.filter(disc_count__gt=1).count() == manifest["multi_disc_albums"]
    assert Track.objects.filter(has_embedded_cover=True).count() == manifest["with_embedded_cover"]
    expected = [json.loads(line) for line in (out / "tracks.jsonl").read_text().splitlines()]
    by_source = {t.source_id: t for t in Track.objects.select_related("album__album_artist")}
    for row in expected:
        track = by_source[row["path"]]
        assert track.title == row["title"]
        assert track.album.album_artist.name == (row["albumartist"] or "[Unknown Artist]")
        assert (track.disc_number, track.track_number) == (row["disc"] or 1, row["track"])
    assert Track.objects.filter(title="Outside").count() == 0
    _assert_storage_matches_tracks()


def test_a_file_orphaned_by_a_crash_is_adopted_not_duplicated(music_root: Path, audio_maker: AudioMaker) -> None:
    src = audio_maker.make(music_root / "a.flac", "flac", tags=album_tags("Record", "Band", 1))
    orphan = Path(settings.MEDIA_ROOT, "Band/Record (2004)/01 Record 1.flac")
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(src.read_bytes())  # stored, then the worker died before the row was committed

    scan = _scan(music_root)

    assert scan.added == 1
    assert Track.objects.get().path == "Band/Record (2004)/01 Record 1.flac"
    _assert_storage_matches_tracks()


def test_identical_files_in_separate_batches_get_a_file_each(music_root: Path, audio_maker: AudioMaker) -> None:
    tags = album_tags("Record", "Band", 1)
    for folder in ("a", "b", "c", "d"):
        audio_maker.make(music_root / folder / "1.flac", "flac", tags=tags)

    scan_tree(ScanOptions(source="local", root=music_root.resolve(), batch_size=1))

    base = "Band/Record (2004)/01 Record 1"
    expected = {f"{base}.flac", f"{base} (2).flac", f"{base} (3).flac", f"{base} (4).flac"}
    assert set(Track.objects.values_list("path", flat=True)) == expected
    _assert_storage_matches_tracks()


@pytest.mark.parametrize("batch_size", [1, 2, 200])
def test_a_scan_stopped_midway_leaves_no_file_without_a_row(
    small_library: Path, monkeypatch: pytest.MonkeyPatch, batch_size: int
) -> None:
    from sources.scan import pipeline

    real_refresh = pipeline.albums_refresh

    def interrupted(album_ids: Any) -> None:  # after the first batch with tracks is committed
        real_refresh(album_ids)
        if album_ids:
            raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "albums_refresh", interrupted)

    with pytest.raises(KeyboardInterrupt):
        scan_tree(ScanOptions(source="local", root=small_library.resolve(), batch_size=batch_size))

    assert Track.objects.exists()
    _assert_storage_matches_tracks()
    assert list(Path(settings.MEDIA_ROOT).rglob(f"{storage.TEMP_PREFIX}*")) == []


def test_a_different_file_on_the_deterministic_name_is_kept(music_root: Path, audio_maker: AudioMaker) -> None:
    audio_maker.make(music_root / "a.flac", "flac", tags=album_tags("Record", "Band", 1))
    other = Path(settings.MEDIA_ROOT, "Band/Record (2004)/01 Record 1.flac")
    other.parent.mkdir(parents=True)
    other.write_bytes(b"someone else's bytes")

    _scan(music_root)

    assert Track.objects.get().path == "Band/Record (2004)/01 Record 1 (2).flac"
    assert other.read_bytes() == b"someone else's bytes"


def test_an_unreadable_folder_is_a_reported_failure(
    music_root: Path, audio_maker: AudioMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = music_root / "locked"
    audio_maker.make(locked / "a.mp3", "mp3")
    audio_maker.make(music_root / "open" / "b.mp3", "mp3")
    real_scandir = os.scandir

    def scandir(path: Any) -> Any:
        if Path(path) == locked.resolve():
            raise PermissionError(13, "Permission denied")  # what chmod 000 gives a non-root user
        return real_scandir(path)

    monkeypatch.setattr("sources.scan.walk.os.scandir", scandir)

    scan = _scan(music_root)

    assert (scan.added, scan.failed) == (1, 1)
    assert scan.errors == [{"path": "locked", "error": "cannot read the folder: Permission denied", "kind": "failed"}]


def test_the_scan_holds_one_batch_at_a_time(small_library: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sources.scan import pipeline

    sizes: list[int] = []
    real_diff = pipeline.diff_batch

    def recording_diff(*, source: str, batch: Any) -> Any:
        sizes.append(len(batch))
        return real_diff(source=source, batch=batch)

    monkeypatch.setattr(pipeline, "diff_batch", recording_diff)

    report = scan_tree(ScanOptions(source="local", root=small_library.resolve(), batch_size=3))

    assert sizes == [3, 3, 2]
    assert report.added == 7


def test_the_workers_read_a_bounded_number_of_batches_ahead(
    small_library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sources.scan import pipeline

    started: list[int] = []
    in_flight_when_written: list[int] = []
    real_diff, real_store = pipeline.diff_batch, pipeline.store_batch

    def recording_diff(*, source: str, batch: Any) -> Any:
        started.append(len(batch))
        return real_diff(source=source, batch=batch)

    def recording_store(**kwargs: Any) -> Any:
        in_flight_when_written.append(len(started) - len(in_flight_when_written))
        return real_store(**kwargs)

    monkeypatch.setattr(pipeline, "diff_batch", recording_diff)
    monkeypatch.setattr(pipeline, "store_batch", recording_store)

    report = scan_tree(ScanOptions(source="local", root=small_library.resolve(), batch_size=1))

    assert report.added == 7
    batches, ahead = len(started), pipeline.READ_AHEAD_BATCHES
    assert batches == report.found > ahead + 1
    # While the first batches are written the next ones are being read; the last ones drain.
    assert in_flight_when_written == [ahead + 1] * (batches - ahead) + list(range(ahead, 0, -1))


def test_a_worker_chunk_is_synced_once_left_in_staging_and_sends_one_picture_per_album(
    music_root: Path, audio_maker: AudioMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = []
    for n in (1, 2, 3):
        path = audio_maker.make(music_root / "A" / f"{n}.mp3", "mp3", tags=album_tags("Pics", "Band", n))
        write_tags(path, read_tags(path), cover=JPEG, cover_mime="image/jpeg")
        paths.append(path)
    synced: list[list[Path]] = []
    real_sync = storage.sync_paths

    def recorded(files: Iterable[storage.StrPath]) -> None:
        synced.append([Path(file) for file in files])
        real_sync(synced[-1])

    monkeypatch.setattr(storage, "sync_paths", recorded)
    changes = [Change(candidate, None) for candidate in walk(music_root) if isinstance(candidate, Candidate)]

    prepared = files_prepare(changes, hardlink=False)

    # One grouped sync for the chunk's three copies, all still in staging: only the store names files.
    assert [len(files) for files in synced] == [3]
    assert [f.parent.name for f in synced[0]] == [storage.STAGING_DIR] * 3
    assert all(ready.staged is not None and not ready.staged.placed_as for ready in prepared)
    covers = [ready.result.tags.cover for ready in prepared if isinstance(ready.result, Read)]
    assert covers == [JPEG, None, None]
    for ready in prepared:
        assert ready.staged is not None
        ready.staged.discard()
