"""OpenSubsonic `transcoding` extension: getTranscodeDecision (POST, a JSON ClientInfo body) and
getTranscodeStream (streams what the signed `transcodeParams` of a decision say)."""

from __future__ import annotations

from functools import partial

from django.http.response import HttpResponseBase

from downloads.relay import ArrivingMedia
from library import selectors, transcode_decisions, transcoding
from library.models import Track
from library.storage import media_path
from library.transcode_decisions import ParamsSubject, StreamDetails
from library.transcoding import playback_response, stream_permission_check
from subsonic import ids
from subsonic.call import Call
from subsonic.client_info import client_info_from_request
from subsonic.errors import ErrorCode, SubsonicError, invalid_parameter
from subsonic.responses import Node
from subsonic.views.media_retrieval import playable, present_track


def _media(call: Call) -> None:
    media_type = call.params.required("mediaType")
    if media_type == "podcast":
        raise SubsonicError(ErrorCode.GENERIC, "Podcasts are not offered by this server")
    if media_type != "song":
        raise invalid_parameter("mediaType", "must be song or podcast")


def _external_subject(call: Call) -> ParamsSubject | None:
    """What the params of an external song (`mediaId` an `ext-` id) are tied to: that id, which players cache,
    so its params keep working once the song has landed; None for a library track."""
    raw = call.params.required("mediaId").strip()
    return transcode_decisions.external_subject(raw) if ids.external_ref(raw) is not None else None


def get_transcode_decision(call: Call) -> Node:
    """An external song still downloading is decided from what its download reports of its format, without
    waiting for the file (its relay's place is given back at once)."""
    user = call.user
    stream_permission_check(user=user)
    if call.request.method != "POST":
        raise SubsonicError(ErrorCode.GENERIC, "getTranscodeDecision takes a POST with a JSON ClientInfo body")
    _media(call)
    client = client_info_from_request(call.request)
    limits = selectors.playback_limits(user=user, client=call.client)
    subject = _external_subject(call)
    song = playable(call, "mediaId")  # an external song still downloading: its format as its download reports it
    if subject is None:
        assert isinstance(song, Track)
        subject = transcode_decisions.track_subject(song)
    try:
        decision = transcode_decisions.transcode_decide(
            track=song, subject=subject, client=client, user_id=user.pk, max_bitrate=limits.max_bitrate
        )
    finally:
        if isinstance(song, ArrivingMedia):
            song.close()
    node = Node(
        "transcodeDecision",
        {
            "canDirectPlay": decision.can_direct_play,
            "canTranscode": decision.can_transcode,
            "errorReason": decision.error_reason or None,
            "transcodeParams": decision.params or None,
        },
    )
    node.add_values("transcodeReason", list(decision.reasons))
    node.add(_details("sourceStream", decision.source))
    if decision.target is not None:
        node.add(_details("transcodeStream", decision.target))
    return node


def _details(name: str, details: StreamDetails) -> Node:
    return Node(
        name,
        {
            "protocol": details.protocol,
            "container": details.container,
            "codec": details.codec,
            "audioChannels": details.channels or None,
            "audioBitrate": details.bitrate or None,
            "audioSamplerate": details.sample_rate or None,
            "audioBitdepth": details.bit_depth or None,
        },
    )


def get_transcode_stream(call: Call) -> HttpResponseBase:
    """What the signed params say, from `offset` seconds; an external song still downloading is relayed as its
    bytes arrive (through ffmpeg when the params name a transcode)."""
    user = call.user
    stream_permission_check(user=user)
    _media(call)
    params = call.params
    raw_params = params.required("transcodeParams")
    offset = params.int_or("offset", 0, minimum=0)
    subject = _external_subject(call)
    song: Track | ArrivingMedia
    if subject is not None:  # checked before the song's download is asked for
        choice = transcode_decisions.transcode_params_read(raw_params, subject=subject, user_id=user.pk)
        song = playable(call, "mediaId")
    else:
        song = present_track(call, "mediaId")
        subject = transcode_decisions.track_subject(song)
        choice = transcode_decisions.transcode_params_read(raw_params, subject=subject, user_id=user.pk)
    if choice.codec_name is None or transcoding.ffmpeg_path() is None:
        # Direct play (an offset still needs a transcode from there), or ffmpeg gone since the decision: the file.
        no_limits = transcoding.NO_LIMITS
        if isinstance(song, ArrivingMedia):
            return transcoding.relay_playback_response(
                call.request,
                media=song,
                user_id=user.pk,
                limits=no_limits,
                requested_format=None,
                max_bitrate=0,
                offset_seconds=offset,
            )
        return playback_response(
            call.request,
            track=song,
            path=media_path(song.path),
            user_id=user.pk,
            limits=no_limits,
            requested_format=None,
            max_bitrate=0,
            offset_seconds=offset,
            estimate_length=False,
        )
    plan = partial(
        transcoding.chosen_plan,
        track=song,
        codec_name=choice.codec_name,
        bitrate=choice.bitrate,
        ceiling=choice.ceiling,
        offset_seconds=offset,
    )
    if isinstance(song, ArrivingMedia):
        return transcoding.relay_response(call.request, media=song, user_id=user.pk, plan=plan)
    return transcoding.transcode_response(
        call.request, track=song, path=media_path(song.path), plan=plan(), user_id=user.pk, estimate_length=False
    )
