"""The ClientInfo JSON body of getTranscodeDecision, read into `library.transcode_decisions.ClientInfo`.

Anything that is not the schema's shape (not JSON, a wrong type, an unknown enum value, a number that is not one)
is error 10 naming the field, before any decision is made.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest

from library.transcode_decisions import (
    ClientInfo,
    DirectPlayProfile,
    Limitation,
    TranscodingProfile,
    codec_name,
    container_name,
    kbps,
)
from subsonic.errors import ErrorCode, SubsonicError

_LIMITATIONS = frozenset({"audioChannels", "audioBitrate", "audioProfile", "audioSamplerate", "audioBitdepth"})
_COMPARISONS = frozenset({"Equals", "NotEquals", "LessThanEqual", "GreaterThanEqual"})
_PROTOCOLS = frozenset({"http", "hls"})
_NUMBER = re.compile(r"[0-9]{1,10}")
MAX_PROFILES = 200  # far more than any player sends; keeps a hostile body from costing much


def _malformed(where: str, reason: str) -> SubsonicError:
    return SubsonicError(ErrorCode.MISSING_PARAMETER, f"Malformed ClientInfo body: {where} {reason}")


def client_info_from_request(request: HttpRequest) -> ClientInfo:
    try:
        body = request.body
    except RequestDataTooBig as exc:
        raise _malformed("the body", "is too large") from exc
    if not body.strip():
        raise _malformed("the body", "is empty (POST the ClientInfo as JSON)")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise _malformed("the body", "is not JSON") from exc
    info = _object(data, "the body")
    return ClientInfo(
        name=_text(info, "name", required=True),
        platform=_text(info, "platform", required=True),
        max_bitrate=kbps(_integer(info, "maxAudioBitrate")),
        max_transcoding_bitrate=kbps(_integer(info, "maxTranscodingAudioBitrate")),
        direct_play=tuple(_direct_play(item, where) for where, item in _items(info, "directPlayProfiles")),
        transcoding=tuple(_transcoding(item, where) for where, item in _items(info, "transcodingProfiles")),
        codec_limitations=_codec_limitations(info),
    )


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _malformed(where, "must be a JSON object")
    return value


def _text(data: dict[str, Any], key: str, *, required: bool = False) -> str:
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise _malformed(repr(key), "must be a non-empty string" if required else "must be a string")
    return value


def _integer(data: dict[str, Any], key: str) -> int:
    value = data.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2**31:
        raise _malformed(repr(key), "must be a non-negative integer")
    return value


def _items(data: dict[str, Any], key: str) -> list[tuple[str, dict[str, Any]]]:
    """The objects of an optional array, each with where it is (for messages)."""
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _malformed(repr(key), "must be an array")
    if len(value) > MAX_PROFILES:
        raise _malformed(repr(key), f"has more than {MAX_PROFILES} entries")
    return [(f"{key}[{n}]", _object(item, f"{key}[{n}]")) for n, item in enumerate(value)]


def _strings(data: dict[str, Any], key: str, where: str) -> list[str]:
    value = data.get(key)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _malformed(f"{where}.{key}", "must be an array of strings")
    if len(value) > MAX_PROFILES:
        raise _malformed(f"{where}.{key}", f"has more than {MAX_PROFILES} entries")
    return value


def _direct_play(data: dict[str, Any], where: str) -> DirectPlayProfile:
    protocols = [item.lower() for item in _strings(data, "protocols", where)]
    if not set(protocols) <= _PROTOCOLS:
        raise _malformed(f"{where}.protocols", "may hold only http and hls")
    return DirectPlayProfile(
        containers=frozenset(container_name(item) for item in _strings(data, "containers", where)),
        codecs=frozenset(codec_name(item) for item in _strings(data, "audioCodecs", where)),
        protocols=frozenset(protocols),
        max_channels=_integer(data, "maxAudioChannels"),
    )


def _transcoding(data: dict[str, Any], where: str) -> TranscodingProfile:
    protocol = _text(data, "protocol", required=True).lower()
    if protocol not in _PROTOCOLS:
        raise _malformed(f"{where}.protocol", "must be http or hls")
    return TranscodingProfile(
        container=_text(data, "container", required=True),
        codec=_text(data, "audioCodec", required=True),
        protocol=protocol,
        max_channels=_integer(data, "maxAudioChannels"),
    )


def _codec_limitations(info: dict[str, Any]) -> dict[str, tuple[Limitation, ...]]:
    limitations: dict[str, tuple[Limitation, ...]] = {}
    for where, profile in _items(info, "codecProfiles"):
        if profile.get("type") != "AudioCodec":
            raise _malformed(f"{where}.type", "must be AudioCodec")
        name = codec_name(_text(profile, "name", required=True))
        found = [_limitation(item, f"{where}.{inner}") for inner, item in _items(profile, "limitations")]
        limitations[name] = (*limitations.get(name, ()), *found)
    return limitations


def _limitation(data: dict[str, Any], where: str) -> Limitation:
    name = data.get("name")
    comparison = data.get("comparison")
    required = data.get("required")
    if name not in _LIMITATIONS:
        raise _malformed(f"{where}.name", f"must be one of {', '.join(sorted(_LIMITATIONS))}")
    if comparison not in _COMPARISONS:
        raise _malformed(f"{where}.comparison", f"must be one of {', '.join(sorted(_COMPARISONS))}")
    if not isinstance(required, bool):
        raise _malformed(f"{where}.required", "must be true or false")
    values = _strings(data, "values", where)
    if name != "audioProfile" and not all(_NUMBER.fullmatch(value.strip()) for value in values):
        raise _malformed(f"{where}.values", f"must be whole numbers for {name}")
    return Limitation(name=name, comparison=comparison, values=tuple(v.strip() for v in values), required=required)
