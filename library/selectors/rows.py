"""Rows: list pages built from `values()`, not model instances. Instantiating 500 models plus their select_related
parents cost several times the query itself. The Subsonic builders read the same attribute names from a row or a
model instance, so each row shape is declared once, here, as annotated attributes: the columns a page selects,
how a row is assembled and which columns of joined models a model queryset leaves unloaded all come from it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, ClassVar, TypeVar, get_type_hints

from django.db.models import Model, QuerySet

from library.models import Album, Track

_R = TypeVar("_R", bound="Row")


class Row:
    """A `values()` row read through attributes named like the model's. An attribute typed as another `Row`
    class is a joined model (its columns are read through `<name>__`); `computed` attributes are set after
    loading (genre names), so they are not columns."""

    pk: int
    computed: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__ = values

    @classmethod
    def columns(cls, prefix: str = "") -> list[str]:
        """The `values()` names this shape reads, joined ones through `prefix`."""
        plain, joined = _shape(cls)
        names = [prefix + column for _, column in plain]
        for name, kind in joined:
            names.extend(kind.columns(f"{prefix}{name}__"))
        return names

    @classmethod
    def unread(cls, model: type[Model], prefix: str) -> list[str]:
        """The concrete columns of `model` (joined as `prefix`) this shape does not read: deferred on model
        querysets whose instances the same builders turn into elements."""
        read = {column for _, column in _shape(cls)[0]}
        return [f"{prefix}__{field.name}" for field in model._meta.concrete_fields if field.attname not in read]

    @classmethod
    def rows(cls: type[_R], qs: QuerySet[Any]) -> list[_R]:
        # Tuples, sliced by a builder made once per shape: a 500-song page was spending more on making
        # per-row dicts (Django's, then ours, one per joined model) than on reading its rows.
        build = _builder(cls)
        return [build(values, 0) for values in qs.values_list(*cls.columns())]


_Shape = tuple[tuple[tuple[str, str], ...], tuple[tuple[str, type[Row]], ...]]


_shapes: dict[type[Row], _Shape] = {}


def _shape(kind: type[Row]) -> _Shape:
    """(attribute, column) pairs of the row's own columns, and (attribute, row class) pairs of joined models."""
    if kind in _shapes:
        return _shapes[kind]
    plain: list[tuple[str, str]] = []
    joined: list[tuple[str, type[Row]]] = []
    for name, hint in get_type_hints(kind).items():
        if name in kind.computed or name == "computed":
            continue
        if isinstance(hint, type) and issubclass(hint, Row):
            joined.append((name, hint))
        else:
            plain.append((name, "id" if name == "pk" else name))
    _shapes[kind] = (tuple(plain), tuple(joined))
    return _shapes[kind]


_Builder = Callable[[tuple[Any, ...], int], Any]
_builders: dict[type[Row], _Builder] = {}


def _builder(kind: type[_R]) -> Callable[[tuple[Any, ...], int], _R]:
    """Makes a `kind` row from a `values_list` tuple laid out as `kind.columns()`, starting at a given index."""
    if kind in _builders:
        return _builders[kind]
    plain, joined = _shape(kind)
    names = tuple(name for name, _ in plain)
    width = len(names)
    parts: list[tuple[str, _Builder, int]] = []  # (attribute, its builder, its first column after ours)
    offset = width
    for name, joined_kind in joined:
        parts.append((name, _builder(joined_kind), offset))
        offset += len(joined_kind.columns())

    def build(values: tuple[Any, ...], start: int) -> _R:
        row = dict(zip(names, values[start : start + width], strict=True))
        for name, joined_build, joined_start in parts:
            row[name] = joined_build(values, start + joined_start)
        return kind(row)

    _builders[kind] = build
    return build


class ArtistRef(Row):
    """An artist as a song or album element names it."""

    name: str


class AlbumRef(Row):
    """The album of a song row: only what a song element shows of it."""

    name: str
    year: int | None
    cover_path: str
    album_artist_id: int
    album_artist: ArtistRef


class TrackRow(Row):
    computed = frozenset({"genre_names"})

    album_id: int
    artist_id: int
    title: str
    artist_display: str
    track_number: int | None
    disc_number: int | None
    year: int | None
    duration_ms: int
    bitrate: int
    sample_rate: int
    bit_depth: int
    channels: int
    codec: str
    suffix: str
    content_type: str
    path: str
    size_bytes: int
    created_at: datetime
    sort_title: str
    musicbrainz_recording_id: str
    isrc: str
    replaygain_track_gain: float | None
    replaygain_track_peak: float | None
    replaygain_album_gain: float | None
    replaygain_album_peak: float | None
    replaygain_base_gain: float | None
    bpm: int | None
    comment: str
    explicit: bool | None
    starred_at: datetime | None
    rating: int
    play_count: int
    genre_names: list[str]
    album: AlbumRef
    artist: ArtistRef


class AlbumRow(Row):
    computed = frozenset({"genre_names"})

    name: str
    album_artist_id: int
    album_artist: ArtistRef
    cover_path: str
    track_count: int
    duration_ms: int
    created_at: datetime | None
    year: int | None
    musicbrainz_release_id: str
    sort_name: str
    is_compilation: bool
    release_date: str
    original_year: int | None
    starred_at: datetime | None
    rating: int
    play_count: int
    genre_names: list[str]


class ArtistIndexRow(Row):
    """An artist of the Subsonic artist index, without user data (shared by every user)."""

    name: str
    sort_name: str
    album_count: int
    musicbrainz_id: str


def track_rows(qs: QuerySet[Track]) -> list[TrackRow]:
    """A (sliced, ordered) `subsonic_tracks` queryset as song rows with genre names: two queries."""
    return with_genre_names(TrackRow.rows(qs))


def album_rows(qs: QuerySet[Album]) -> list[AlbumRow]:
    """A (sliced, ordered) `albums_base` queryset as album rows with genre names: two queries."""
    return with_genre_names(AlbumRow.rows(qs))


def track_rows_in_key_range(qs: QuerySet[Track], *, first: int, last: int) -> list[TrackRow]:
    """The song rows of a `subsonic_tracks` queryset with keys from `first` to `last`, in key order, with genre
    names: a page of the full-library sync, whose keys are consecutive in `qs`. Two bound values instead of the
    page's 500 keys: binding and planning a 500-value IN list cost more than reading the rows."""
    rows = TrackRow.rows(qs.filter(pk__gte=first, pk__lte=last).order_by("pk"))
    genres = Track.genres.through.objects.filter(track_id__gte=first, track_id__lte=last).values_list(
        "track_id", "genre__name"
    )
    return _genre_names_set(rows, genres)


_GenreOwner = TypeVar("_GenreOwner", Album, Track, AlbumRow, TrackRow)


def with_genre_names(items: Iterable[_GenreOwner]) -> list[_GenreOwner]:
    """Set `genre_names` (sorted) on each album or track with a single query. For hundreds of rows this is far
    cheaper than prefetch_related, which builds a related manager per object."""
    objects = list(items)
    if not objects:
        return objects
    rows: QuerySet[Any, tuple[int, str]]
    if isinstance(objects[0], Album | AlbumRow):
        rows = Album.genres.through.objects.filter(album_id__in=[o.pk for o in objects]).values_list(
            "album_id", "genre__name"
        )
    else:
        rows = Track.genres.through.objects.filter(track_id__in=[o.pk for o in objects]).values_list(
            "track_id", "genre__name"
        )
    return _genre_names_set(objects, rows)


def _genre_names_set(objects: list[_GenreOwner], rows: QuerySet[Any, tuple[int, str]]) -> list[_GenreOwner]:
    """`rows`: (owner id, genre name) of the objects' genres (and perhaps of others)."""
    names: dict[int, list[str]] = {}
    for owner_id, name in rows.order_by("genre__name_key"):
        names.setdefault(owner_id, []).append(name)
    for obj in objects:
        obj.genre_names = names.get(obj.pk, [])  # type: ignore[attr-defined]
    return objects
