"""Searching the external catalogue alongside the library: every source at once, all under one deadline, so that a
slow or failing source costs a search its hits and never its answer (the source's health says why)."""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from accounts.models import User
from downloads.selectors import SourceHits, search_results_mark, sources_search
from downloads.services.catalogue import catalogue_hits_usable, catalogue_open
from sources.base import ResultKind, SearchResult
from sources.services import source_problem_clear, source_problem_record

logger = logging.getLogger(__name__)

# Searches run here so a slow source cannot hold the request past its deadline. A search that overruns keeps its
# worker until the source's own request timeout ends it; with every worker busy, further searches wait in the
# queue and run out of time at once, so a hung source costs each request at most the deadline.
_search_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="catalogue-search")
# YouTube Music's first page of an unfiltered search: more would need a second request.
MAX_SEARCH_HITS = 100


@dataclass(frozen=True)
class CatalogueHits:
    """Hits of the external catalogue for one search, songs already in the library left out."""

    artists: list[SearchResult] = field(default_factory=list)
    albums: list[SearchResult] = field(default_factory=list)
    songs: list[SearchResult] = field(default_factory=list)


@dataclass(frozen=True)
class CatalogueSearch:
    """A search of the external catalogue under way (one per source, all under one deadline): started before the
    library is searched, so the two overlap and a user waits for the slower one, not for both."""

    wanted: dict[ResultKind, int] = field(default_factory=dict)
    searches: list[tuple[str, Future[list[SourceHits]]]] = field(default_factory=list)
    deadline: float = 0.0

    def hits(self) -> CatalogueHits:
        """Up to the wanted number of hits of each kind; a source that timed out or failed adds none (and its
        health says why), songs the library holds are left out."""
        if not self.searches:
            return CatalogueHits()
        found: list[SearchResult] = []
        for name, future in self.searches:
            try:
                outcomes = future.result(timeout=max(0.0, self.deadline - time.monotonic()))
            except FutureTimeoutError:
                timeout = settings.EXTERNAL_SEARCH_TIMEOUT_SECONDS
                _search_problem(name, "timeout", f"search timed out after {timeout:g} s")
                continue
            for outcome in outcomes:
                if outcome.error is None:
                    source_problem_clear(source_name=outcome.source)
                elif outcome.error["code"] != "source_unavailable":  # a disabled source's health says so already
                    _search_problem(outcome.source, outcome.error["code"], f"search failed: {outcome.error['message']}")
                found += catalogue_hits_usable(outcome.results)
        return _kept(found, self.wanted)


def catalogue_search_start(
    *,
    user: User,
    query: str,
    sources: Collection[str],
    artist_count: int,
    album_count: int,
    song_count: int,
) -> CatalogueSearch:
    """Start searching, for up to `*_count` hits of each kind (0 skips a kind), every enabled searchable source
    among `sources` (those the caller's users can name). Nothing is asked for an empty query or a closed
    catalogue."""
    wanted = {ResultKind.ARTIST: artist_count, ResultKind.ALBUM: album_count, ResultKind.SONG: song_count}
    if not query.strip() or not any(wanted.values()) or not catalogue_open(user=user):
        return CatalogueSearch()
    limit = min(MAX_SEARCH_HITS, sum(wanted.values()))
    searches = [
        (name, _search_pool.submit(sources_search, query=query, kind=None, limit=limit, only=name)) for name in sources
    ]
    return CatalogueSearch(
        wanted=wanted, searches=searches, deadline=time.monotonic() + settings.EXTERNAL_SEARCH_TIMEOUT_SECONDS
    )


def _kept(found: list[SearchResult], wanted: dict[ResultKind, int]) -> CatalogueHits:
    kept: dict[ResultKind, list[SearchResult]] = {kind: [] for kind in wanted}
    for marked in search_results_mark(results=found):
        hit = marked.result
        if hit.kind not in kept or marked.track_id is not None or not hit.extra.get("available", True):
            continue  # a song the library holds is among the library hits already
        if len(kept[hit.kind]) < wanted[hit.kind]:
            kept[hit.kind].append(hit)
    return CatalogueHits(artists=kept[ResultKind.ARTIST], albums=kept[ResultKind.ALBUM], songs=kept[ResultKind.SONG])


def _search_problem(source: str, error: str, what: str) -> None:
    """A search of `source` gave nothing: logged, and kept for the source's health (the sources API, admin)."""
    at = timezone.now().strftime("%Y-%m-%d %H:%M:%S UTC")
    logger.warning("external catalogue search on %s: %s; answering library hits only", source, what)
    source_problem_record(source_name=source, error=error, message=f"{what} at {at}")
