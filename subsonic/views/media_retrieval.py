"""stream, download, getCoverArt, getLyrics, getLyricsBySongId, getAvatar.

Binary answers go through `library.streaming.file_response` (Range, HEAD, conditional requests); errors on these
endpoints are ordinary Subsonic documents (`text/xml`, HTTP 200), which is what DSub checks for.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from django.http.response import HttpResponseBase

from downloads.relay import ArrivingMedia
from downloads.services import catalogue_cover_get, catalogue_song_playback
from library import lyrics, selectors
from library.covers import cover_image, placeholder_image
from library.lrc import StructuredLyrics
from library.models import Track
from library.storage import media_path
from library.streaming import file_response, growing_file_response
from library.transcoding import (
    format_requested,
    max_bitrate_requested,
    playback_response,
    relay_playback_response,
    stream_permission_check,
)
from sources.base import ExternalItem, ResultKind
from subsonic import external, ids
from subsonic.call import Call
from subsonic.errors import not_found
from subsonic.ids import Kind
from subsonic.responses import Node

_COVER_KINDS = {Kind.ALBUM: "album", Kind.ARTIST: "artist", Kind.TRACK: "track", Kind.PLAYLIST: "playlist"}
COVER_CACHE_SECONDS = 7 * 24 * 3600


def present_track(call: Call, param: str = "id") -> Track:
    """The song's track; an external song is downloaded first."""
    found = playable(call, param, relay=False)
    assert isinstance(found, Track)
    return found


def playable(call: Call, param: str = "id", *, relay: bool = True) -> Track | ArrivingMedia:
    """The song's track, or an external song's download relayed while it arrives (`catalogue_song_playback`)."""
    decoded = ids.decode_or_external(call.params.required(param), allowed=(Kind.TRACK,), bare=Kind.TRACK)
    if isinstance(decoded, ExternalItem):
        found = catalogue_song_playback(user=call.user, item=external.of_kind(decoded, ResultKind.SONG), relay=relay)
        if isinstance(found, ArrivingMedia):
            return found
        track = found
    else:
        track = selectors.track_get(track_id=decoded[1])
    if track.is_missing:
        raise not_found("Song file")
    return track


def stream(call: Call) -> HttpResponseBase:
    """The original file, or a transcode (`format`, `maxBitRate`, the user's limit, `timeOffset`) encoded while
    it streams; `estimateContentLength` makes a transcode's Content-Length exact. Not a play. An external song
    still downloading is relayed as its bytes arrive, through ffmpeg when the same rules call for a transcode."""
    user = call.user
    stream_permission_check(user=user)
    params = call.params
    requested_format = format_requested(params.text("format"))
    max_bitrate = max_bitrate_requested(params.int_or("maxBitRate", 0, minimum=0))
    offset_seconds = params.int_or("timeOffset", 0, minimum=0)
    estimate_length = params.flag("estimateContentLength", False)
    limits = selectors.playback_limits(user=user, client=call.client)
    found = playable(call)
    if isinstance(found, ArrivingMedia):
        return relay_playback_response(
            call.request,
            media=found,
            user_id=user.pk,
            limits=limits,
            requested_format=requested_format,
            max_bitrate=max_bitrate,
            offset_seconds=offset_seconds,
        )
    return playback_response(
        call.request,
        track=found,
        path=media_path(found.path),
        user_id=user.pk,
        limits=limits,
        requested_format=requested_format,
        max_bitrate=max_bitrate,
        offset_seconds=offset_seconds,
        estimate_length=estimate_length,
    )


def download(call: Call) -> HttpResponseBase:
    call.require_role(call.user.can_download, "download")
    found = playable(call)
    if isinstance(found, ArrivingMedia):
        return _relayed(call, found)
    return file_response(
        call.request,
        path=media_path(found.path),
        content_type=found.content_type,
        filename=PurePosixPath(found.path).name,
        as_attachment=True,
    )


def _relayed(call: Call, media: ArrivingMedia) -> HttpResponseBase:
    filename = f"{call.params.required('id').strip()}.{media.ext}"
    response = growing_file_response(call.request, media=media, filename=filename, as_attachment=True)
    if media.duration_ms:
        response["X-Content-Duration"] = f"{media.duration_ms / 1000:.2f}"
    return response


def get_cover_art(call: Call) -> HttpResponseBase:
    size = call.params.integer("size", None, minimum=0)
    try:
        kind, pk = ids.decode_cover(call.params.required("id"))
    except ids.ExternalNotInLibraryError as missing:
        ref = missing.ref
        path, content_type = catalogue_cover_get(user=call.user, item=ref, key=ids.external_item_id(ref), size=size)
    else:
        relative = selectors.cover_relative_path(kind=_COVER_KINDS[kind], item_id=pk, user=call.user)
        if relative:
            path, content_type = cover_image(relative_path=relative, size=size)
        else:
            title, subtitle = selectors.cover_label(kind=_COVER_KINDS[kind], item_id=pk)
            path, content_type = placeholder_image(size=size, seed=f"{kind}-{pk}", title=title, subtitle=subtitle)
    response = file_response(call.request, path=path, content_type=content_type)
    response["Cache-Control"] = f"private, max-age={COVER_CACHE_SECONDS}"
    return response


def get_lyrics(call: Call) -> Node:
    artist = call.params.text("artist") or ""
    title = call.params.text("title") or ""
    track = selectors.track_lyrics_find(artist=artist, title=title)
    if track is None:
        return Node("lyrics", text="")
    text = lyrics.track_lyrics(track).plain_text
    return Node("lyrics", {"artist": track.artist_display or track.artist.name, "title": track.title}, text=text)


def get_lyrics_by_song_id(call: Call) -> Node:
    """Structured lyrics (OpenSubsonic songLyrics v1) from the first source of LYRICS_PRIORITY that has some:
    the synchronised version first, then the plain one."""
    track = selectors.track_get(track_id=ids.decode_as(call.params.required("id"), Kind.TRACK))
    node = Node("lyricsList")
    node.add_list("structuredLyrics", [_structured(track, item) for item in lyrics.track_lyrics(track).versions])
    return node


def _structured(track: Track, item: StructuredLyrics) -> Node:
    node = Node(
        "structuredLyrics",
        {
            "displayArtist": track.artist_display or track.artist.name,
            "displayTitle": track.title,
            "lang": "xxx",
            "synced": item.synced,
            "offset": item.offset_ms or None,
        },
    )
    node.add_list("line", [Node("line", {"start": line.start_ms}, text=line.text) for line in item.lines])
    return node


def get_avatar(call: Call) -> HttpResponseBase:
    call.params.required("username")
    raise not_found("Avatar (this server stores no user avatars)")
