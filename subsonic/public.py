"""Public share links (`/share/<token>`): a plain page listing the shared songs with players, and the audio
itself. The token is the only credential; expired or unknown tokens are a 404 like any missing page.

Also the artist pictures that getArtist / getArtistInfo announce (`/share/img/<signed artist id>?size=`): players
fetch those URLs as they are, without Subsonic credentials, so the URL carries a signature instead of the caller's
password or token (Navidrome's public image URLs work the same way)."""

from __future__ import annotations

from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse

from library.covers import cover_image
from library.selectors import artist_cover_path, share_by_token, share_tracks
from library.services import share_visit_record
from library.storage import media_path
from library.streaming import file_response
from mcma.errors import NotFoundError


def share_page(request: HttpRequest, token: str) -> HttpResponse:
    share = share_by_token(token=token)
    if share is None:
        raise Http404("This share does not exist or has expired.")
    share_visit_record(share=share)
    context = {"share": share, "tracks": list(enumerate(share_tracks(share=share)))}
    return render(request, "subsonic/share.html", context)


def share_audio(request: HttpRequest, token: str, position: int) -> HttpResponseBase:
    share = share_by_token(token=token)
    tracks = share_tracks(share=share) if share is not None else []
    if not 0 <= position < len(tracks):
        raise Http404("No such song in this share.")
    track = tracks[position]
    try:
        return file_response(request, path=media_path(track.path), content_type=track.content_type)
    except NotFoundError as exc:
        raise Http404(exc.message) from exc


_ARTIST_IMAGE_SIGNER = signing.Signer(salt="mcma.subsonic.artist-image", sep=".")
# The largest side an image URL may ask for: the biggest size bucket covers use.
MAX_IMAGE_SIZE = 4096
IMAGE_CACHE_SECONDS = 7 * 24 * 3600


def artist_image_url(request: HttpRequest, *, artist_id: int, size: int) -> str:
    """An absolute URL of the artist's picture at `size` pixels that anyone holding it may fetch."""
    token = _ARTIST_IMAGE_SIGNER.sign(str(artist_id))
    return f"{request.build_absolute_uri(reverse('artist-image', kwargs={'token': token}))}?size={size}"


def artist_image(request: HttpRequest, token: str) -> HttpResponseBase:
    try:
        artist_id = int(_ARTIST_IMAGE_SIGNER.unsign(token))
    except (signing.BadSignature, ValueError) as exc:
        raise Http404("No such image.") from exc
    raw_size = request.GET.get("size", "")
    if raw_size and not (raw_size.isdigit() and len(raw_size) <= 5 and int(raw_size) <= MAX_IMAGE_SIZE):
        raise Http404(f"size must be a number of pixels up to {MAX_IMAGE_SIZE}.")
    relative = artist_cover_path(artist_id=artist_id)
    if not relative:
        raise Http404("This artist has no picture.")
    try:
        path, content_type = cover_image(relative_path=relative, size=int(raw_size) if raw_size else None)
        response = file_response(request, path=path, content_type=content_type)
    except NotFoundError as exc:
        raise Http404(exc.message) from exc
    response["Cache-Control"] = f"public, max-age={IMAGE_CACHE_SECONDS}"
    return response
