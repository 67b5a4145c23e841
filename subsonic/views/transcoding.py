"""OpenSubsonic `transcoding` extension: getTranscodeDecision (POST, a JSON ClientInfo body) and
getTranscodeStream (streams what the signed `transcodeParams` of a decision say)."""

from __future__ import annotations

from django.http.response import HttpResponseBase

from library import selectors, transcode_decisions, transcoding
from library.storage import media_path
from library.transcode_decisions import StreamDetails
from library.transcoding import playback_response, stream_permission_check
from subsonic.call import Call
from subsonic.client_info import client_info_from_request
from subsonic.errors import ErrorCode, SubsonicError, invalid_parameter
from subsonic.responses import Node
from subsonic.views.media_retrieval import present_track


def _media(call: Call) -> None:
    media_type = call.params.required("mediaType")
    if media_type == "podcast":
        raise SubsonicError(ErrorCode.GENERIC, "Podcasts are not offered by this server")
    if media_type != "song":
        raise invalid_parameter("mediaType", "must be song or podcast")


def get_transcode_decision(call: Call) -> Node:
    user = call.user
    stream_permission_check(user=user)
    if call.request.method != "POST":
        raise SubsonicError(ErrorCode.GENERIC, "getTranscodeDecision takes a POST with a JSON ClientInfo body")
    _media(call)
    client = client_info_from_request(call.request)
    track = present_track(call, "mediaId")
    limits = selectors.playback_limits(user=user, client=call.client)
    decision = transcode_decisions.transcode_decide(
        track=track, client=client, user_id=user.pk, max_bitrate=limits.max_bitrate
    )
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
    user = call.user
    stream_permission_check(user=user)
    _media(call)
    params = call.params
    raw_params = params.required("transcodeParams")
    offset = params.int_or("offset", 0, minimum=0)
    track = present_track(call, "mediaId")
    choice = transcode_decisions.transcode_params_read(raw_params, track=track, user_id=user.pk)
    path = media_path(track.path)
    if choice.codec_name is None or transcoding.ffmpeg_path() is None:
        # Direct play (an offset still needs a transcode from there), or ffmpeg gone since the decision: the file.
        return playback_response(
            call.request,
            track=track,
            path=path,
            user_id=user.pk,
            limits=transcoding.NO_LIMITS,
            requested_format=None,
            max_bitrate=0,
            offset_seconds=offset,
            estimate_length=False,
        )
    plan = transcoding.chosen_plan(
        track=track,
        codec_name=choice.codec_name,
        bitrate=choice.bitrate,
        ceiling=choice.ceiling,
        offset_seconds=offset,
    )
    return transcoding.transcode_response(
        call.request, track=track, path=path, plan=plan, user_id=user.pk, estimate_length=False
    )
