"""Query-string filters of the library lists. Only the parameters declared here reach the ORM: no generic
`?field=` filtering (the "ORM leak" class), every value validated by a form field, orderings allowlisted."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q, QuerySet

from library import selectors
from library.models import Album, Artist, Genre, MetadataStatus, Track, TrackArtist

MAX_ID = 2**63 - 1


class IdFilter(django_filters.NumberFilter):
    """An integer id in the database's range (a bigger number would overflow the driver, not miss)."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class YearFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, field_name="year", min_value=0, max_value=9999, **kwargs)


class StableOrderingFilter(django_filters.OrderingFilter):
    """An allowlisted ordering plus the primary key as the last key, so pages never overlap or skip rows."""

    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        if not value:
            return qs
        ordering = [self.get_ordering_value(param) for param in value if param not in (None, "")]
        if not ordering:
            return qs
        tiebreak = "-pk" if ordering[-1].startswith("-") else "pk"
        return qs.order_by(*ordering, tiebreak)


class _SearchMixin(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", max_length=200, help_text="Accent- and case-insensitive words.")
    starred = django_filters.BooleanFilter(method="filter_starred", help_text="Only items you starred (or not).")

    def filter_starred(self, qs: QuerySet[Any], name: str, value: bool | None) -> QuerySet[Any]:
        if value is None:
            return qs
        return qs.filter(starred_at__isnull=not value)


class ArtistFilter(_SearchMixin):
    ordering = StableOrderingFilter(
        fields=(
            ("sort_name", "name"),
            ("album_count", "album_count"),
            ("track_count", "track_count"),
            ("created_at", "created"),
            ("play_count", "play_count"),
            ("rating", "rating"),
        )
    )

    class Meta:
        model = Artist
        fields: list[str] = []

    def filter_q(self, qs: QuerySet[Artist], name: str, value: str) -> QuerySet[Artist]:
        return selectors.search_ordered(qs, query=value) if value else qs


class AlbumFilter(_SearchMixin):
    artist = IdFilter(field_name="album_artist_id", help_text="Album artist id.")
    genre = IdFilter(field_name="genres", help_text="Genre id.")
    year_min = YearFilter(lookup_expr="gte")
    year_max = YearFilter(lookup_expr="lte")
    compilation = django_filters.BooleanFilter(field_name="is_compilation")
    source = django_filters.CharFilter(method="filter_source", max_length=32, help_text="Albums with tracks from it.")
    ordering = StableOrderingFilter(
        fields=(
            ("sort_name", "name"),
            ("year", "year"),
            ("created_at", "created"),
            ("album_artist__sort_name", "artist"),
            ("duration_ms", "duration"),
            ("play_count", "play_count"),
            ("rating", "rating"),
        )
    )

    class Meta:
        model = Album
        fields: list[str] = []

    def filter_q(self, qs: QuerySet[Album], name: str, value: str) -> QuerySet[Album]:
        return selectors.search_ordered(qs, query=value) if value else qs

    def filter_source(self, qs: QuerySet[Album], name: str, value: str) -> QuerySet[Album]:
        return qs.filter(selectors.album_has_source(value)) if value else qs


class TrackFilter(_SearchMixin):
    artist = IdFilter(method="filter_artist", help_text="Artist id (primary or credited).")
    album = IdFilter(field_name="album_id")
    genre = IdFilter(field_name="genres")
    year_min = YearFilter(lookup_expr="gte")
    year_max = YearFilter(lookup_expr="lte")
    source = django_filters.CharFilter(field_name="source", max_length=32)
    metadata_status = django_filters.ChoiceFilter(choices=MetadataStatus.choices)
    missing = django_filters.BooleanFilter(field_name="is_missing")
    ordering = StableOrderingFilter(
        fields=(
            ("title_key", "title"),
            ("year", "year"),
            ("created_at", "created"),
            ("duration_ms", "duration"),
            ("artist__sort_name", "artist"),
            ("album__sort_name", "album"),
            ("play_count", "play_count"),
            ("rating", "rating"),
        )
    )

    class Meta:
        model = Track
        fields: list[str] = []

    def filter_q(self, qs: QuerySet[Track], name: str, value: str) -> QuerySet[Track]:
        return selectors.search_ordered(qs, query=value) if value else qs

    def filter_artist(self, qs: QuerySet[Track], name: str, value: Any) -> QuerySet[Track]:
        """Tracks by the artist as primary or credited (featured) artist."""
        if value is None:
            return qs
        credited = TrackArtist.objects.filter(track=OuterRef("pk"), artist_id=int(value))
        return qs.filter(Q(artist_id=int(value)) | Exists(credited))


class GenreFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", max_length=200)
    ordering = StableOrderingFilter(
        fields=(("name_key", "name"), ("album_count", "album_count"), ("track_count", "track_count"))
    )

    class Meta:
        model = Genre
        fields: list[str] = []

    def filter_q(self, qs: QuerySet[Genre], name: str, value: str) -> QuerySet[Genre]:
        return selectors.genres_search(qs, query=value) if value else qs
