"""Admin pages to look at music: a track (with a player), an album with its tracks in order, an artist's albums.

Every signed-in user may read them; editing stays on the admin's change forms, linked for admins. Audio plays
through the REST stream endpoint with the admin's session (Range requests, so the player seeks).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

from library import selectors, services
from library.models import Album, Artist, Track
from library.services import AnnotatedKind
from mcma.admin_pages import admin_page, page_user
from mcma.errors import ApplicationError, NotFoundError

STARRABLE: dict[str, AnnotatedKind] = {"track": "track", "album": "album", "artist": "artist"}


def _missing(request: HttpRequest, exc: NotFoundError) -> TemplateResponse:
    response = admin_page(request, "admin/library/not_found.html", "Not found", {"message": exc.message})
    response.status_code = 404
    return response


def _detail(
    request: HttpRequest, kind: str, fetch: Callable[[], Track | Album | Artist], title: Callable[[Any], str]
) -> TemplateResponse:
    try:
        item = fetch()
    except NotFoundError as exc:
        return _missing(request, exc)
    return admin_page(request, f"admin/library/{kind}_page.html", title(item), {kind: item, "kind": kind})


def track_page(request: HttpRequest, track_id: int) -> TemplateResponse:
    user = page_user(request)
    return _detail(request, "track", lambda: selectors.track_detail(user=user, track_id=track_id), lambda t: t.title)


def album_page(request: HttpRequest, album_id: int) -> TemplateResponse:
    user = page_user(request)
    return _detail(request, "album", lambda: selectors.album_detail(user=user, album_id=album_id), lambda a: a.name)


def artist_page(request: HttpRequest, artist_id: int) -> TemplateResponse:
    user = page_user(request)
    return _detail(request, "artist", lambda: selectors.artist_detail(user=user, artist_id=artist_id), lambda a: a.name)


@require_POST
def star(request: HttpRequest, kind: str, item_id: int) -> HttpResponse:
    """Star or unstar a track, album or artist for the signed-in user, then back to its page."""
    annotated = STARRABLE.get(kind)
    if annotated is None:
        messages.error(request, f"Only {', '.join(STARRABLE)} can be starred.")
        return redirect("admin:index")
    try:
        services.star_set(
            user=page_user(request), kind=annotated, ids=[item_id], starred=request.POST.get("starred") == "true"
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("admin:index")
    return redirect(f"admin:music-{kind}", item_id)
