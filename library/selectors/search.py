"""Text search over the stored folded keys: the same `fold()` on both sides, so SQLite and PostgreSQL agree.
Artists, albums and tracks are matched through the search index of migration 0009 (`library_<kind>_search`,
kept in sync by triggers), genres (a short table) directly. Used by the REST lists' `q` and by search2/search3."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from django.core.cache import cache
from django.db import connections
from django.db.models import BooleanField, Case, CharField, F, Model, Q, QuerySet, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Concat

from accounts.models import User
from library.models import (
    Album,
    Artist,
    Genre,
    Track,
)
from library.selectors.base import in_order, present, present_tracks_by_key
from library.selectors.catalog import albums_list, artists_list, tracks_list
from library.selectors.rows import AlbumRow, TrackRow, album_rows, track_rows, track_rows_in_key_range
from library.selectors.subsonic import albums_base, library_change, subsonic_artists, subsonic_tracks
from library.text import fold

_M = TypeVar("_M", bound=Model)


def search_terms(query: str) -> list[str]:
    """The folded words of a query; every word must occur in the item (AND), in any order."""
    return fold(query).split()


def _match_all(qs: QuerySet[_M], terms: list[str], fields: tuple[str, ...]) -> QuerySet[_M]:
    # `contains` escapes LIKE wildcards, so `%` or `_` in a query match only themselves.
    for term in terms:
        condition = Q()
        for field in fields:
            condition |= Q(**{f"{field}__contains": term})
        qs = qs.filter(condition)
    return qs


# The SQLite trigram tokenizer indexes 3-character windows: shorter words are looked for in the index rows.
_TRIGRAM = 3


def _like_literal(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _match_sql(qs: QuerySet[Any], terms: list[str]) -> tuple[str, list[str]]:
    """The SELECT of the keys whose index row (their folded name, plus artist and album names) holds every term,
    with its parameters."""
    table = f"{qs.model._meta.db_table}_search"
    if connections[qs.db].vendor == "sqlite":
        indexed = [term for term in terms if len(term) >= _TRIGRAM]
        clauses = [f"{table} MATCH %s"] if indexed else []
        params = [" AND ".join('"' + term.replace('"', '""') + '"' for term in indexed)] if indexed else []
        for term in terms:
            if len(term) < _TRIGRAM:
                clauses.append("instr(body, %s) > 0")
                params.append(term)
        return f"SELECT rowid FROM {table} WHERE {' AND '.join(clauses)}", params  # noqa: S608 - values are params
    likes = " AND ".join("body LIKE %s" for _ in terms)
    return f"SELECT item_id FROM {table} WHERE {likes}", [_like_literal(term) for term in terms]  # noqa: S608


def _indexed_match(qs: QuerySet[_M], terms: list[str]) -> QuerySet[_M]:
    """The items of `qs` whose index row holds every term."""
    if not terms:
        return qs
    return qs.filter(pk__in=RawSQL(*_match_sql(qs, terms)))  # noqa: S611 - values are params


# kind -> (the folded key ranking compares with the query, the column ties are broken by)
_RANK_KEYS: dict[type[Model], tuple[str, str]] = {
    Artist: ("name_key", "sort_name"),
    Album: ("name_key", "sort_name"),
    Track: ("title_key", "title_key"),
}


# Within a rank class: the user's most played, then starred (then by name and key).
_POPULAR_FIRST = ("-play_count", "-search_starred")
_RANK_ORDER = ("search_rank", *_POPULAR_FIRST)


def _ranked(qs: QuerySet[_M], *, query: str) -> QuerySet[_M]:
    """Best match first, for players that play the first hit: the whole key equal to the query, then starting
    with it, then holding it as whole words, then anything else that matched (a fragment inside a word, or a
    match in another field). Ties: the user's most played, then starred, then by name. `qs` carries the user's
    `play_count` and `starred_at` (every list queryset here does)."""
    key, name = _RANK_KEYS[qs.model]
    phrase = fold(query)
    rank = Case(
        When(**{key: phrase}, then=Value(0)),
        When(**{f"{key}__startswith": phrase}, then=Value(1)),
        When(_as_whole_words(phrase), then=Value(2)),
        default=Value(3),
    )
    return _alias(_with_padded_key(qs), search_rank=rank).order_by(*_RANK_ORDER, name, "pk")


def _with_padded_key(qs: QuerySet[_M]) -> QuerySet[_M]:
    """`search_padded`: the key between two spaces, for `_as_whole_words`."""
    key, _ = _RANK_KEYS[qs.model]
    return _alias(qs, search_padded=Concat(Value(" "), F(key), Value(" "), output_field=CharField()))


def _as_whole_words(phrase: str) -> Q:
    """The (padded) key holds `phrase` as whole words: rank class 2, or better."""
    return Q(search_padded__contains=f" {phrase} ")


def _leading(qs: QuerySet[_M], *, query: str) -> QuerySet[_M]:
    """The items whose key starts with the whole query (`_starting`), in `_ranked` order: the first two rank
    classes. Each holds every word of the query in its own key, so it matches without the search index."""
    key, name = _RANK_KEYS[qs.model]
    phrase = fold(query)
    rank = Case(When(**{key: phrase}, then=Value(0)), default=Value(1))
    return _alias(qs, search_rank=rank).filter(_starting(qs, phrase)).order_by(*_RANK_ORDER, name, "pk")


def _range_walks_in_name_order(qs: QuerySet[Any]) -> bool:
    """Walking `_starting`'s index range is walking the items in name order: the name is the key (tracks), and
    the database orders the key as the range does. SQLite compares the bytes; PostgreSQL orders by the column's
    collation, which its prefix index does not follow, so a walk there starts at the first name."""
    key, name = _RANK_KEYS[qs.model]
    return key == name and connections[qs.db].vendor == "sqlite"


def _starting(qs: QuerySet[Any], phrase: str) -> Q:
    """The key starts with `phrase`, as an index range on the key: SQLite's LIKE cannot use a plain index, so a
    range on the (binary-ordered) key comes with it; PostgreSQL's LIKE uses the pattern index Django makes
    beside the key's."""
    key, _ = _RANK_KEYS[qs.model]
    starting = Q(**{f"{key}__startswith": phrase})
    if connections[qs.db].vendor == "sqlite":
        starting &= Q(**{f"{key}__gte": phrase, f"{key}__lt": phrase + _LAST_CHARACTER})
    return starting


_LAST_CHARACTER = chr(0x10FFFF)


def _with_starred(qs: QuerySet[_M]) -> QuerySet[_M]:
    return _alias(qs, search_starred=Case(When(starred_at__isnull=False, then=Value(1)), default=Value(0)))


def _alias(qs: QuerySet[_M], **aliases: Any) -> QuerySet[_M]:
    # django-stubs types alias() on a queryset of a type variable as a queryset of Model: the model stays qs's.
    return cast(QuerySet[_M], qs.alias(**aliases))


def search_ordered(qs: QuerySet[_M], *, query: str) -> QuerySet[_M]:
    """The items of `qs` matching every word of `query`, best match first (`_ranked`): for lists that page and
    count themselves (the REST lists' `q`)."""
    return _ranked(_with_starred(_indexed_match(qs, search_terms(query))), query=query)


def search_page_pks(qs: QuerySet[_M], *, query: str, offset: int, count: int) -> list[int]:
    """One page of `search_ordered(qs)` as primary keys. A common word matches a fifth of a large library, and
    ranking every match costs more than a player waits for: the page is cut from the ranking's parts
    (`_ranking_parts`), each found without ranking the others, and a part is only read when the page reaches it."""
    if count <= 0:
        return []
    if not search_terms(query):
        return _page_pks(search_ordered(qs, query=query), offset, count)
    parts = _ranking_parts(qs, query=query, wanted=offset + count)
    pks: list[int] = []
    skip = offset
    for part in parts:
        found = _page_pks(part, skip, count - len(pks))
        pks += found
        if len(pks) == count:
            break
        if found:
            skip = 0
        elif skip:
            skip -= part.count()
    return pks


def _ranking_parts(qs: QuerySet[_M], *, query: str, wanted: int) -> Iterator[QuerySet[_M]]:
    """`_ranked` as consecutive parts, each in `_ranked` order, made as the page needs them. A rank class with
    few candidates for the page is ranked at once; one with many (a common word) is walked (`_walked`).
    First the items whose key starts with the query, from an index range on the key (`_starting`); when they
    are walked, the exact key comes first. Then the other matches, from the search index: when few, ranked at
    once; when many, those holding the query as whole words further on in their key (the candidates are the
    index rows with a word starting with it), then the rest."""
    key, name = _RANK_KEYS[qs.model]
    phrase = fold(query)
    terms = search_terms(query)
    starred = _with_starred(qs)
    enough = _COMMON_MATCHES_PER_WANTED * wanted
    starting = _starting(qs, phrase)
    if (
        _range_walks_in_name_order(qs)
        and qs.model._default_manager.filter(starting).order_by()[:enough].count() >= enough
    ):
        yield starred.filter(**{key: phrase}).order_by(*_POPULAR_FIRST, name, "pk")
        yield from _walked(starred.filter(starting).exclude(**{key: phrase}))
    else:
        yield _leading(starred, query=query)
    inner = _with_padded_key(starred).exclude(starting)
    word_start = [f" {phrase}"]
    matches, word_starts = _index_rows(qs, [terms, word_start], up_to=enough)
    if matches < enough:
        if matches:
            yield _ranked(_indexed_match(inner, terms), query=query)
        return
    whole_words = _as_whole_words(phrase)
    if word_starts >= enough:
        yield from _walked(inner.filter(whole_words))
    elif word_starts:
        yield _indexed_match(inner.filter(whole_words), word_start).order_by(*_POPULAR_FIRST, name, "pk")
    yield from _walked(inner.exclude(whole_words).filter(_index_row_holds(qs, terms)))


# A rank class is common when it has at least this many candidates for each item up to the page's end: walking
# the name index in order then meets a page's worth within a few thousand rows.
_COMMON_MATCHES_PER_WANTED = 50


def _walked(qs: QuerySet[_M]) -> Iterator[QuerySet[_M]]:
    """The many items of `qs` (one rank class) in `_ranked` order: first those the user played or starred, then
    the rest, all unplayed and unstarred, so in name order: a walk of the name index that stops when the page is
    full. The played ones are walked from the user's annotation rows by play count (`noted_play_count`), so a user
    who played thousands of tracks is not read in full for each search."""
    _, name = _RANK_KEYS[qs.model]
    # `noted_play_count >= 0`: the user has an annotation row. Said as a comparison, not as IS NOT NULL, so both
    # databases make the annotation join an inner one and can start from the user's rows, by play count.
    played_or_starred = Q(noted_play_count__gte=0) & (Q(noted_play_count__gt=0) | Q(starred_at__isnull=False))
    yield qs.filter(played_or_starred).order_by(F("noted_play_count").desc(), "-search_starred", name, "pk")
    yield qs.filter(play_count=0, starred_at__isnull=True).order_by(name, "pk")


def _index_rows(qs: QuerySet[Any], term_lists: list[list[str]], *, up_to: int) -> list[int]:
    """For each list of terms, how many search index rows hold all of them, counting no further than `up_to`;
    in one query."""
    counts: list[str] = []
    params: list[str | int] = []
    for terms in term_lists:
        sql, values = _match_sql(qs, terms)
        counts.append(f"(SELECT count(*) FROM ({sql} LIMIT %s) matched)")  # noqa: S608 - values are params
        params += [*values, up_to]
    with connections[qs.db].cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(counts)}", params)
        return [int(count) for count in cursor.fetchone()]


def _index_row_holds(qs: QuerySet[Any], terms: list[str]) -> RawSQL:
    """The condition that each item's own index row holds every term, looked up by its key: for walking items in
    another order, where the set of all matches (`_indexed_match`) would be built first, at a fifth of a large
    library for a common word."""
    table = qs.model._meta.db_table
    own_row = f'= "{table}"."{qs.model._meta.pk.column}"'
    if connections[qs.db].vendor == "sqlite":
        where = " AND ".join([f"rowid {own_row}"] + ["instr(body, %s) > 0"] * len(terms))
        values = terms
    else:
        where = " AND ".join([f"item_id {own_row}"] + ["body LIKE %s"] * len(terms)) + " OFFSET 0"
        values = [_like_literal(term) for term in terms]
    # PostgreSQL would turn a plain EXISTS into a join with every match; OFFSET 0 keeps it a per-item lookup.
    exists = f"EXISTS (SELECT 1 FROM {table}_search WHERE {where})"  # noqa: S608 - values are params
    return RawSQL(exists, values, output_field=BooleanField())  # noqa: S611 - values are params


def genres_search(qs: QuerySet[Genre], *, query: str) -> QuerySet[Genre]:
    return _match_all(qs, search_terms(query), ("name_key",))


@dataclass(frozen=True)
class CatalogHits:
    artists: list[Artist]
    albums: list[Album]
    tracks: list[Track]


def catalog_search(*, user: User, query: str, limit: int) -> CatalogHits:
    """The library's best `limit` artists, albums and present tracks for `query`, as the REST lists show them
    (the REST `/search` and the admin search page)."""
    return CatalogHits(
        artists=_best(artists_list(user=user), query=query, limit=limit),
        albums=_best(albums_list(user=user), query=query, limit=limit),
        tracks=_best(tracks_list(user=user).filter(present()), query=query, limit=limit),
    )


def _best(qs: QuerySet[_M], *, query: str, limit: int) -> list[_M]:
    return _loaded(qs, search_page_pks(qs, query=query, offset=0, count=limit))


def _loaded(qs: QuerySet[_M], pks: list[int]) -> list[_M]:
    """The items of `qs` with these keys, in their order."""
    return in_order(list(qs.filter(pk__in=pks)), pks) if pks else []


# Queries that mean "everything" for search3: empty, a quoted empty string (Symfonium sends `""`, PureMusic `''`)
# and a lone wildcard.
_EVERYTHING_QUERIES = frozenset({"", '""', "''", "*"})


def search_query_text(query: str) -> str:
    """What a search2/search3 query asks for: the words without a trailing `*`; "" for the whole library."""
    text = query.strip()
    text = text[:-1].strip() if text.endswith("*") and text != "*" else text
    return "" if text in _EVERYTHING_QUERIES else text


@dataclass(frozen=True)
class SearchResult:
    artists: list[Artist]
    albums: list[AlbumRow]
    tracks: list[TrackRow]


def library_search(
    *,
    user: User,
    query: str,
    artist_count: int,
    artist_offset: int,
    album_count: int,
    album_offset: int,
    song_count: int,
    song_offset: int,
    source: str | None = None,
) -> SearchResult:
    """search2/search3. Accent- and case-insensitive word match, best match first (`search_page_pks`); an empty query
    (also `""`, `''` or `*`) pages through the whole library by primary key, the stable order offline-sync
    clients rely on. A count of 0 skips that kind. Query count is bounded: per kind asked for, the page of keys
    (for a query, one per ranking part the page reaches, plus the counts that choose the parts), the rows, and
    genres for albums and songs."""
    text = search_query_text(query)
    artists = subsonic_artists(user=user, source=source, album_artists_only=False)
    albums = albums_base(user=user, source=source)
    tracks = subsonic_tracks(user=user, source=source)
    if text:
        artist_pks = search_page_pks(artists, query=text, offset=artist_offset, count=artist_count)
        album_pks = search_page_pks(albums, query=text, offset=album_offset, count=album_count)
        track_pks = search_page_pks(tracks, query=text, offset=song_offset, count=song_count)
    else:
        # Keys only from the track table (and its present-track index), not the joins a song element needs.
        by_key = present_tracks_by_key().filter(source=source) if source else present_tracks_by_key()
        artist_pks = _page_pks(artists.order_by("pk"), artist_offset, artist_count)
        album_pks = _page_pks(albums.order_by("pk"), album_offset, album_count)
        track_pks = _sync_page_pks(by_key.order_by("pk"), source=source, offset=song_offset, count=song_count)
    return SearchResult(
        artists=_loaded(artists, artist_pks),
        albums=in_order(album_rows(albums.filter(pk__in=album_pks)), album_pks) if album_pks else [],
        tracks=_tracks(tracks, track_pks, in_key_order=not text),
    )


def _tracks(tracks: QuerySet[Track], pks: list[int], *, in_key_order: bool) -> list[TrackRow]:
    if not pks:
        return []
    if in_key_order:  # a sync page: the tracks of `tracks` from its first key to its last, bar any that came since
        wanted = set(pks)
        return [row for row in track_rows_in_key_range(tracks, first=pks[0], last=pks[-1]) if row.pk in wanted]
    return in_order(track_rows(tracks.filter(pk__in=pks)), pks)


# How long the key a full-sync page ended on is kept for the next page (a sync runs for seconds or minutes).
SYNC_RESUME_SECONDS = 3600


def _sync_page_pks(ordered: QuerySet[Track], *, source: str | None, offset: int, count: int) -> list[int]:
    """A page of the full-library sync (present tracks in key order). A deep OFFSET walks every key before it
    (PostgreSQL: most of a page's database time at 90k); while the library is unchanged (the same change
    token), the page after one that ended on key K is the next `count` keys after K, found by an index seek."""
    if count <= 0:
        return []
    token = library_change().token
    prefix = f"mcma:sync-after:{token}:{source or ''}"
    after = cache.get(f"{prefix}:{offset}") if offset else None
    if after is not None:
        pks = list(ordered.filter(pk__gt=after).values_list("pk", flat=True)[:count])
    else:
        pks = _page_pks(ordered, offset, count)
    if pks:
        cache.set(f"{prefix}:{offset + len(pks)}", pks[-1], SYNC_RESUME_SECONDS)
    return pks


def _page_pks(ordered: QuerySet[_M], offset: int, count: int) -> list[int]:
    """One page's primary keys. Ranking and deep offsets (a full sync pages to 100k) walk many rows: walking
    them as bare keys, then loading only the page's rows, keeps a page from costing the rows it skips."""
    return list(ordered.values_list("pk", flat=True)[offset : offset + count]) if count > 0 else []
