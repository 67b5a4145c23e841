"""Stars, ratings and play history over REST."""

from __future__ import annotations

from typing import Any

import pytest

from library.models import AlbumAnnotation, ArtistAnnotation, Play, TrackAnnotation
from tests.factories.accounts import UserFactory
from tests.factories.library import TrackFactory

pytestmark = pytest.mark.django_db


def test_star_and_unstar(api_client_for: Any) -> None:
    user = UserFactory.create()
    track = TrackFactory.create()
    client = api_client_for(user)
    starred = client.post(f"/api/v1/tracks/{track.pk}/star")
    assert starred.status_code == 200
    assert starred.json()["starred"] is True
    first_time = starred.json()["starred_at"]
    assert client.post(f"/api/v1/tracks/{track.pk}/star").json()["starred_at"] == first_time  # idempotent
    unstarred = client.delete(f"/api/v1/tracks/{track.pk}/star")
    assert unstarred.json() == {"starred": False, "starred_at": None}
    assert client.post("/api/v1/tracks/999999/star").status_code == 404


def test_stars_are_private_to_each_user(api_client_for: Any) -> None:
    me, other = UserFactory.create(), UserFactory.create()
    track = TrackFactory.create()
    api_client_for(other).post(f"/api/v1/tracks/{track.pk}/star")
    assert api_client_for(me).get(f"/api/v1/tracks/{track.pk}").json()["starred_at"] is None


@pytest.mark.parametrize(("rating", "status"), [(5, 200), (0, 200), (1, 200), (6, 400), (-1, 400), ("x", 400)])
def test_rating(api_client_for: Any, rating: Any, status: int) -> None:
    user = UserFactory.create()
    track = TrackFactory.create()
    response = api_client_for(user).put(f"/api/v1/tracks/{track.pk}/rating", {"rating": rating}, format="json")
    assert response.status_code == status
    stored = TrackAnnotation.objects.filter(user=user, track=track).values_list("rating", flat=True).first()
    assert stored == (rating if status == 200 else None)


def test_record_and_list_plays(api_client_for: Any) -> None:
    user = UserFactory.create()
    track = TrackFactory.create()
    client = api_client_for(user)
    created = client.post(
        "/api/v1/me/plays", {"track_id": track.pk, "client": "test-player", "played_at": "2026-01-02T03:04:05Z"}
    )
    assert created.status_code == 201
    assert created.json()["track"]["id"] == track.pk
    client.post("/api/v1/me/plays", {"track_id": track.pk}, format="json")
    listing = client.get("/api/v1/me/plays").json()
    assert listing["count"] == 2
    assert listing["results"][1]["client"] == "test-player"  # newest first
    assert client.get(f"/api/v1/tracks/{track.pk}").json()["play_count"] == 2
    assert AlbumAnnotation.objects.get(user=user, album=track.album).play_count == 2
    assert ArtistAnnotation.objects.get(user=user, artist=track.artist).play_count == 2
    other = api_client_for(UserFactory.create()).get("/api/v1/me/plays").json()
    assert other["count"] == 0


@pytest.mark.parametrize("body", [{}, {"track_id": 999999}, {"track_id": "x"}, {"track_id": 1, "played_at": "soon"}])
def test_bad_plays_are_rejected(api_client_for: Any, body: dict[str, Any]) -> None:
    TrackFactory.create()
    response = api_client_for(UserFactory.create()).post("/api/v1/me/plays", body, format="json")
    assert response.status_code in (400, 404)
    assert Play.objects.count() == 0
