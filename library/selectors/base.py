"""The rules every library read shares, whichever API asks: which tracks are present, how a user's stars, ratings
and play counts join an item, which items belong to a music folder, and the lookup that turns "no row" into
NotFoundError."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar, cast

from django.db.models import (
    Exists,
    F,
    FilteredRelation,
    IntegerField,
    Model,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce

from accounts.models import User
from library.models import Track
from mcma.errors import NotFoundError

_M = TypeVar("_M", bound=Model)


class _Keyed(Protocol):
    @property
    def pk(self) -> int: ...


_Item = TypeVar("_Item", bound=_Keyed)


def get_or_not_found(qs: QuerySet[_M], pk: int, label: str) -> _M:
    obj = qs.filter(pk=pk).first()
    if obj is None:
        raise NotFoundError(f"{label} not found.", details={"id": pk})
    return obj


def present(through: str = "") -> Q:
    """The track (reached by `through`, e.g. "track__" from a playlist entry) has its file: the only tracks the
    Subsonic API lists, and the REST API unless asked for missing ones."""
    return Q(**{f"{through}is_missing": False})


def present_tracks() -> QuerySet[Track]:
    return Track.objects.filter(present())


def present_tracks_by_key() -> QuerySet[Track]:
    """Present tracks for a walk in primary-key order (the full-library sync pages to 100k songs).

    Written as `is_missing IN (false)`, which SQLite serves from `track_present_idx`; Django's `NOT is_missing`
    it never does. Only for such walks: without table statistics SQLite then also prefers that index for a
    lookup by album or artist, where it reads every present track instead of an album's ten (PostgreSQL plans
    both forms alike)."""
    return Track.objects.filter(is_missing__in=[False])


def album_has_source(source: str) -> Exists:
    """The album has a present track from music folder (source alias) `source`."""
    return Exists(present_tracks().filter(album=OuterRef("pk"), source=source))


def artist_has_source(source: str) -> Exists:
    """The artist is album artist of an album with a present track from `source`."""
    return Exists(present_tracks().filter(album__album_artist=OuterRef("pk"), source=source))


def with_user_data(qs: QuerySet[_M], *, user: User, through: str = "") -> QuerySet[_M]:
    """Annotate `starred_at`, `rating` (0 = none) and `play_count` of `user` on each track, album or artist (or on
    the item reached by `through`, e.g. "track__" for playlist entries), from one LEFT JOIN on the user's
    annotation row (unique per user and item): on 500-row pages three correlated subqueries per row were most of
    the SQL time. The alias `noted_play_count` is the row's own column (NULL without a row): a filter or order on
    it, unlike one on `play_count`, can be served by the annotations' (user, play_count) index."""
    relation = f"{through}annotations"
    annotated = qs.annotate(
        mine=FilteredRelation(relation, condition=Q(**{f"{relation}__user": user})),
        starred_at=F("mine__starred_at"),
        rating=Coalesce(F("mine__rating"), Value(0), output_field=IntegerField()),
        play_count=Coalesce(F("mine__play_count"), Value(0), output_field=IntegerField()),
    ).alias(noted_play_count=F("mine__play_count"))
    return cast(QuerySet[_M], annotated)


class CountOf(Subquery):
    """`(SELECT COUNT(*) FROM (subquery))`: a per-row count without GROUP BY joins multiplying each other."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) _counted)"
    output_field = IntegerField()


def in_order(items: Sequence[_Item], pks: list[int]) -> list[_Item]:
    """`items` sorted like `pks` (a page chosen by key, loaded with `pk IN (...)`)."""
    position = {pk: index for index, pk in enumerate(pks)}
    return sorted(items, key=lambda item: position[item.pk])
