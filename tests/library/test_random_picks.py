"""getRandomSongs' picks: distinct, uniform enough, filtered, and never an ORDER BY RANDOM() over the table."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from library import selectors
from library.models import Track
from tests.factories.accounts import UserFactory
from tests.factories.library import GenreFactory, TrackFactory

pytestmark = pytest.mark.django_db


def _random_titles(**filters: object) -> list[str]:
    return [row.title for row in selectors.tracks_random(user=UserFactory.create(), **filters)]  # type: ignore[arg-type]


def test_picks_are_distinct_present_and_without_order_by_random() -> None:
    tracks = TrackFactory.create_batch(30)
    Track.objects.filter(pk=tracks[0].pk).update(is_missing=True)
    with CaptureQueriesContext(connection) as queries:
        titles = _random_titles(size=10)
    assert len(titles) == len(set(titles)) == 10
    assert tracks[0].title not in titles
    assert not any("RANDOM()" in query["sql"].upper() for query in queries.captured_queries)
    seen = {title for _ in range(20) for title in _random_titles(size=10)}
    assert len(seen) > 20  # not the same ten every time


def test_asking_for_more_than_there_is_returns_everything_once() -> None:
    TrackFactory.create_batch(5)
    assert sorted(_random_titles(size=50)) == sorted(Track.objects.values_list("title", flat=True))


def test_a_sparse_filter_still_fills_the_page() -> None:
    rare = GenreFactory.create(name="Zeuhl")
    TrackFactory.create_batch(200)
    chosen = TrackFactory.create_batch(3)
    for track in chosen:
        track.genres.add(rare)
    TrackFactory.create_batch(200)
    assert sorted(_random_titles(size=3, genre="zeuhl")) == sorted(track.title for track in chosen)
    assert _random_titles(size=3, genre="nothing") == []


def test_random_albums_are_distinct_present_and_without_order_by_random() -> None:
    user = UserFactory.create()
    tracks = TrackFactory.create_batch(30)  # one album each
    Track.objects.filter(pk=tracks[0].pk).update(is_missing=True)
    with CaptureQueriesContext(connection) as queries:
        names = [row.name for row in selectors.album_list(user=user, list_type=selectors.AlbumListType.RANDOM, size=10)]
    assert len(names) == len(set(names)) == 10
    assert tracks[0].album.name not in names
    assert not any("RANDOM()" in query["sql"].upper() for query in queries.captured_queries)
    every = selectors.album_list(user=user, list_type=selectors.AlbumListType.RANDOM, size=50)
    assert len(every) == 29


def test_dense_keys_are_probed_a_quarter_over_the_size_then_by_the_shortfall(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys are mostly dense: the first probe draws 25% more keys than wanted; a shortfall (here half the keys
    missing) is drawn again at four times the shortfall."""
    from library.selectors import subsonic

    draws: list[int] = []
    sample = subsonic._random.sample

    def recorded(population: Any, k: int) -> list[Any]:
        draws.append(k)
        return sample(population, k)

    monkeypatch.setattr(subsonic._random, "sample", recorded)
    tracks = TrackFactory.create_batch(80)
    qs = Track.objects.filter(is_missing=False)
    assert len(selectors.random_pks(qs, 8)) == 8
    assert draws[0] == 10
    Track.objects.filter(pk__in=[track.pk for track in tracks[::2]]).update(is_missing=True)
    draws.clear()
    picked = selectors.random_pks(qs, 8)
    assert len(set(picked)) == 8
    assert draws[0] == 10
    # Later rounds draw four times the shortfall (at most 8, here); the last call shuffles the picks.
    assert all(draw % 4 == 0 and draw <= 32 for draw in draws[1:-1]), draws
