"""Hand edits: `PATCH /api/v1/tracks/{id}` (admin) and the admin change form record `edited_fields`, which
identification never overwrites; bad input is a 400 naming the problem."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from library.enrichment import services
from library.models import Album, MetadataStatus, Track
from tests.factories.accounts import AdminFactory, UserFactory
from tests.factories.library import TrackFactory
from tests.fakes.metadata_server import RECORDING_ID, FakeMetadataServices

pytestmark = pytest.mark.django_db


def _url(track: Track) -> str:
    return f"/api/v1/tracks/{track.pk}"


def test_an_admin_edits_a_track_and_identification_leaves_those_fields_alone(
    api_client_for: Any, fake_metadata: FakeMetadataServices
) -> None:
    track = TrackFactory.create(title="Trak", musicbrainz_recording_id=RECORDING_ID, track_number=9)
    old_album = track.album
    edit = {
        "title": "Track",
        "artist": "My Band",
        "album": "My Album",
        "year": 1999,
        "genres": ["Rock", "Jazz"],
        "track_number": 3,
        "disc_number": 2,
    }

    response = api_client_for(AdminFactory.create()).patch(_url(track), edit, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["title"], body["year"], body["track_number"], body["disc_number"]) == ("Track", 1999, 3, 2)
    track.refresh_from_db()
    assert (track.artist.name, track.artist_display, track.album.name) == ("My Band", "My Band", "My Album")
    assert track.album.album_artist_id == old_album.album_artist_id
    assert sorted(track.genres.values_list("name", flat=True)) == ["Jazz", "Rock"]
    assert track.edited_fields == sorted(edit)
    assert Album.objects.get(pk=track.album_id).track_count == 1

    outcome = services.track_enrich(track_id=track.pk)  # the fake's recording is "Paranoid Android" on OK Computer

    track.refresh_from_db()
    assert outcome.status == MetadataStatus.ENRICHED
    assert (track.title, track.artist.name, track.album.name, track.year) == ("Track", "My Band", "My Album", 1999)
    assert (track.track_number, track.disc_number) == (3, 2)
    assert not {"title", "artist", "album", "genres", "year"} & set(outcome.changed)


def test_only_admins_edit(api_client_for: Any) -> None:
    track = TrackFactory.create(title="Same")

    assert api_client_for(UserFactory.create()).patch(_url(track), {"title": "x"}, format="json").status_code == 403
    assert api_client_for(None).patch(_url(track), {"title": "x"}, format="json").status_code == 401
    assert Track.objects.get(pk=track.pk).title == "Same"


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        ({"title": "  "}, "title"),
        ({"year": 0}, "year"),
        ({"track_number": "three"}, "track_number"),
        ({"genres": "Rock"}, "genres"),
        ({"disc_number": None}, "disc_number"),
        ({"comment": "not editable"}, "Not editable: comment"),
        ({}, "Send at least one of"),
    ],
)
def test_bad_edits_are_400_naming_the_problem(api_client_for: Any, edit: dict[str, Any], problem: str) -> None:
    track = TrackFactory.create(title="Same")

    response = api_client_for(AdminFactory.create()).patch(_url(track), edit, format="json")

    assert response.status_code == 400
    assert problem in response.content.decode()
    track.refresh_from_db()
    assert (track.title, track.edited_fields or []) == ("Same", [])


def test_editing_a_missing_track_is_404(api_client_for: Any) -> None:
    response = api_client_for(AdminFactory.create()).patch("/api/v1/tracks/999999", {"title": "x"}, format="json")

    assert response.status_code == 404


def test_an_admin_change_form_edit_records_the_edited_fields(client: Client) -> None:
    track = TrackFactory.create(title="Before", track_number=1)
    client.force_login(AdminFactory.create())
    page = client.get(reverse("admin:library_track_change", args=[track.pk]))
    form = page.context["adminform"].form
    data: dict[str, Any] = {}
    for name, value in form.initial.items():
        if name in form.fields and value is not None:
            data[name] = [getattr(item, "pk", item) for item in value] if isinstance(value, list) else value
    for inline in page.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data.update({management.add_prefix(name): value for name, value in management.initial.items()})
        for inline_form in inline.formset.forms:
            data.update({inline_form.add_prefix(n): v for n, v in inline_form.initial.items() if v is not None})
    data.update(title="After", track_number=4)

    response = client.post(reverse("admin:library_track_change", args=[track.pk]), data)

    assert response.status_code == 302
    track.refresh_from_db()
    assert (track.title, track.track_number) == ("After", 4)
    assert track.edited_fields == ["title", "track_number"]
