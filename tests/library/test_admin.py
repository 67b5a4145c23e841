"""Admin smoke tests: every registered model's changelist, search, filters and change page render for an admin."""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from accounts.models import ApiKey, SubsonicCredential
from downloads.models import DownloadJob
from library.models import Genre, Track
from tests.factories.accounts import AdminFactory, UserFactory
from tests.factories.library import TrackFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_logged_in(client: Client) -> Client:
    client.force_login(AdminFactory.create())
    return client


@pytest.fixture
def some_tracks() -> list[Track]:
    rock = Genre.objects.create(name="Rock", name_key="rock")
    tracks = [TrackFactory.create(title=f"Song {n}") for n in range(3)]
    tracks[0].genres.add(rock)
    return tracks


def _registered_models() -> list[Any]:
    return [m for m in admin.site._registry if m._meta.app_label in {"library", "accounts", "sources"}]


def test_every_library_model_is_registered() -> None:
    from django.apps import apps

    registered = set(admin.site._registry)
    assert set(apps.get_app_config("library").get_models()) <= registered
    assert set(apps.get_app_config("accounts").get_models()) <= registered


@pytest.mark.usefixtures("some_tracks")
def test_every_changelist_renders_with_search(admin_client_logged_in: Client) -> None:
    for model in _registered_models():
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        assert admin_client_logged_in.get(url).status_code == 200, url
        assert admin_client_logged_in.get(url, {"q": "song"}).status_code == 200, url


def test_track_filters(admin_client_logged_in: Client, some_tracks: list[Track]) -> None:
    url = reverse("admin:library_track_changelist")
    artist = some_tracks[1].artist

    by_artist = admin_client_logged_in.get(url, {"artist_name": artist.name.upper()})
    by_album = admin_client_logged_in.get(url, {"album_name": some_tracks[2].album.name})
    by_genre = admin_client_logged_in.get(url, {"genres__id__exact": some_tracks[0].genres.get().pk})
    by_rest = admin_client_logged_in.get(url, {"source": "local", "metadata_status": "pending", "year": "2001"})

    assert list(by_artist.context["cl"].queryset) == [some_tracks[1]]
    assert list(by_album.context["cl"].queryset) == [some_tracks[2]]
    assert list(by_genre.context["cl"].queryset) == [some_tracks[0]]
    assert by_rest.context["cl"].result_count == 3
    assert 'name="artist_name"' in by_artist.content.decode()


def test_change_pages_render(admin_client_logged_in: Client, some_tracks: list[Track]) -> None:
    track = some_tracks[0]
    for obj in (track, track.album, track.artist):
        url = reverse(f"admin:library_{obj._meta.model_name}_change", args=[obj.pk])
        assert admin_client_logged_in.get(url).status_code == 200, url


def test_user_admin_shows_subsonic_roles_but_never_secrets(admin_client_logged_in: Client) -> None:
    user = UserFactory.create(username="listener")
    SubsonicCredential.objects.create(user=user, ciphertext=b"TOPSECRETCIPHERTEXT")
    key = ApiKey.objects.create(user=user, name="script", prefix="mcma_ab", key_hash="HASHHASHHASH")

    page = admin_client_logged_in.get(reverse("admin:accounts_user_change", args=[user.pk])).content.decode()
    cred_list = admin_client_logged_in.get(reverse("admin:accounts_subsoniccredential_changelist")).content.decode()
    key_page = admin_client_logged_in.get(reverse("admin:accounts_apikey_change", args=[key.pk])).content.decode()

    assert "can_download" in page
    assert "max_bitrate" in page
    assert "TOPSECRETCIPHERTEXT" not in cred_list
    assert "HASHHASHHASH" not in key_page
    assert "mcma_ab" in key_page
    assert admin_client_logged_in.get(reverse("admin:accounts_apikey_add")).status_code == 403


def test_non_staff_cannot_use_the_model_pages(client: Client) -> None:
    client.force_login(UserFactory.create())

    response = client.get(reverse("admin:library_track_changelist"))

    # They may sign in to the management UI (their downloads, the music pages), but model pages are admin-only.
    assert response.status_code == 403


def test_admin_can_add_a_user(admin_client_logged_in: Client) -> None:
    from accounts.models import User

    response = admin_client_logged_in.post(
        reverse("admin:accounts_user_add"),
        {
            "username": "newbie",
            "password1": "a long enough passphrase 42",
            "password2": "a long enough passphrase 42",
            "usable_password": "true",
            "can_stream": "on",
            "max_bitrate": "320",
        },
    )

    assert response.status_code == 302
    user = User.objects.get(username="newbie")
    assert user.check_password("a long enough passphrase 42")
    assert user.max_bitrate == 320
    assert not user.can_download


@pytest.mark.parametrize(
    "model", [model for model in apps.get_models() if admin.site.is_registered(model)], ids=lambda m: m._meta.label
)
def test_every_list_page_costs_a_fixed_number_of_queries(
    admin_client_logged_in: Client, model: Any, django_assert_max_num_queries: Any
) -> None:
    """With 60 tracks and what hangs off them, no list page runs a query per row."""
    model_admin = admin.site.get_model_admin(model)
    tracks = TrackFactory.create_batch(60)
    for track in tracks[:20]:
        DownloadJob.objects.create(source="youtube", external_id=f"vid{track.pk}", title=track.title, track=track)
    url = reverse(f"admin:{model_admin.opts.app_label}_{model_admin.opts.model_name}_changelist")
    with django_assert_max_num_queries(15):
        assert admin_client_logged_in.get(url).status_code == 200
