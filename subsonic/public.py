"""Public share links (`/share/<token>`): a plain page listing the shared songs with players, and the audio
itself. The token is the only credential; expired or unknown tokens are a 404 like any missing page."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render

from library.selectors import share_by_token, share_tracks
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
