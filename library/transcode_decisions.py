"""OpenSubsonic transcode decisions: can this player play the file as it is, and if not, what should it get?

A player describes itself (a ClientInfo: the containers and codecs it plays directly, the transcodes it accepts in
order of preference, per-codec limitations, bitrate ceilings); `transcode_decide` compares that with the track
and the caller's own limit and answers with what the player gets and opaque `transcodeParams`. The params are
signed with a key derived from SECRET_KEY for this purpose alone, bound to the track, its file and the user, and
good for TRANSCODE_PARAMS_MAX_AGE seconds, so `transcode_params_read` refuses any value this server did not issue
(or issued for a file since replaced, or too long ago); ffmpeg only ever sees a plan rebuilt from a codec name in
`CODECS` and clamped numbers (`transcoding.chosen_plan`).

The player's codec limitations apply twice: to the file, for direct play, and to each transcode it would accept,
which is brought within their ceilings (channels, bitrate, sample rate, bit depth) and dropped when it still
cannot meet them (a player that takes opus only below 48 kHz gets no opus).
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.core import signing

from library import transcoding
from library.models import Track
from library.transcoding import AudioCeiling, TrackAudio, lowest_limit
from mcma.errors import InvalidInputError

PARAMS_SALT = "mcma.library.transcode_decisions.params"
PROTOCOL = "http"  # the only protocol served; HLS is not

# One name per container, so "m4a" and "mp4" (or "oga" and "ogg") describe the same files.
_CONTAINER_ALIASES = {"m4a": "mp4", "m4b": "mp4", "oga": "ogg", "opus": "ogg", "adts": "aac", "aif": "aiff"}
_CODEC_ALIASES = {"mpeg": "mp3", "mp4a": "aac", "m4a": "aac", "ogg": "vorbis", "wav": "pcm"}
# What each codec of `transcoding.CODECS` is sent in (the container named as players name it).
_OUTPUT_CONTAINER = {"mp3": "mp3", "opus": "ogg", "aac": "aac", "flac": "flac"}
# Bitrates in a ClientInfo are kbps; a value this large can only be bits per second (some players send those).
_BITS_PER_SECOND_FROM = 10_000


class TranscodeParamsError(InvalidInputError):
    code = "invalid_transcode_params"


@dataclass(frozen=True)
class Limitation:
    name: str  # audioChannels, audioBitrate, audioProfile, audioSamplerate, audioBitdepth
    comparison: str  # Equals, NotEquals, LessThanEqual, GreaterThanEqual
    values: tuple[str, ...]
    required: bool


@dataclass(frozen=True)
class DirectPlayProfile:
    containers: frozenset[str]  # empty = any
    codecs: frozenset[str]  # empty = any
    protocols: frozenset[str]  # empty = any
    max_channels: int = 0  # 0 = any


@dataclass(frozen=True)
class TranscodingProfile:
    container: str
    codec: str
    protocol: str
    max_channels: int = 0


@dataclass(frozen=True)
class ClientInfo:
    name: str
    platform: str
    max_bitrate: int = 0  # kbps; 0 = none
    max_transcoding_bitrate: int = 0
    direct_play: tuple[DirectPlayProfile, ...] = ()
    transcoding: tuple[TranscodingProfile, ...] = ()
    codec_limitations: dict[str, tuple[Limitation, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class StreamDetails:
    protocol: str
    container: str
    codec: str
    channels: int
    bitrate: int
    sample_rate: int
    bit_depth: int


@dataclass(frozen=True)
class TranscodeDecision:
    can_direct_play: bool
    can_transcode: bool
    reasons: tuple[str, ...]
    error_reason: str
    source: StreamDetails
    target: StreamDetails | None
    params: str


@dataclass(frozen=True)
class ParamsSubject:
    """What signed params are tied to: a library track and its file (`track_subject`), or an external song by its
    id (`external_subject`), whose params keep working on its library track once it lands (players cache them);
    its file is not known when they are issued, so none is named, and every plan is clamped to the audio anyway."""

    key: int | str  # the track's pk, or the external song's id
    file_stamp: str


@dataclass(frozen=True)
class TranscodeChoice:
    """What signed params say to send: the file itself (`codec_name` None) or a transcode."""

    codec_name: str | None
    bitrate: int
    ceiling: AudioCeiling


def container_name(raw: str) -> str:
    lowered = raw.strip().lower()
    return _CONTAINER_ALIASES.get(lowered, lowered)


def codec_name(raw: str) -> str:
    lowered = raw.strip().lower()
    return _CODEC_ALIASES.get(lowered, lowered)


def kbps(value: int) -> int:
    """A ClientInfo bitrate in kbps (0 = none)."""
    if value <= 0:
        return 0
    return value // 1000 if value >= _BITS_PER_SECOND_FROM else value


def source_details(track: TrackAudio) -> StreamDetails:
    return StreamDetails(
        protocol=PROTOCOL,
        container=container_name(track.suffix),
        codec=codec_name(track.codec or track.suffix),
        channels=track.channels,
        bitrate=track.bitrate,
        sample_rate=track.sample_rate,
        bit_depth=track.bit_depth or 0,
    )


_COMPARE: dict[str, Callable[[int, int], bool]] = {
    "LessThanEqual": operator.le,
    "GreaterThanEqual": operator.ge,
}
_ATTRIBUTE = {
    "audioChannels": "channels",
    "audioBitrate": "bitrate",
    "audioSamplerate": "sample_rate",
    "audioBitdepth": "bit_depth",
}
_REASON = {
    "audioChannels": "audio channels not supported",
    "audioBitrate": "audio bitrate not supported",
    "audioProfile": "audio profile not supported",
    "audioSamplerate": "audio sample rate not supported",
    "audioBitdepth": "audio bit depth not supported",
}


def _numbers(limitation: Limitation) -> list[int]:
    """The limitation's values as numbers in the unit stream details use (kbps for bitrates)."""
    return [kbps(int(raw)) if limitation.name == "audioBitrate" else int(raw) for raw in limitation.values]


def _satisfies(limitation: Limitation, stream: StreamDetails, *, unknown_passes: bool) -> bool:
    """Whether the stream meets the limitation. A value the server does not know (0, or any audio profile,
    which mcma does not record) passes when `unknown_passes`, else only if the limitation is not required."""
    attribute = _ATTRIBUTE.get(limitation.name)
    value = getattr(stream, attribute) if attribute else 0
    if not value:
        return unknown_passes or not limitation.required
    wanted = _numbers(limitation)
    if not wanted:
        return True
    if limitation.comparison == "Equals":
        return value in wanted
    if limitation.comparison == "NotEquals":
        return value not in wanted
    return _COMPARE[limitation.comparison](value, wanted[0])


def _limitation_failures(client: ClientInfo, stream: StreamDetails, *, unknown_passes: bool = False) -> list[str]:
    return [
        _REASON[limitation.name]
        for limitation in client.codec_limitations.get(stream.codec, ())
        if not _satisfies(limitation, stream, unknown_passes=unknown_passes)
    ]


def _direct_play_failures(client: ClientInfo, source: StreamDetails, limit: int) -> list[str]:
    """Why the file cannot be sent as it is (empty: it can): the closest direct-play profile's reasons."""
    if not client.direct_play:
        return ["no direct play profile"]
    best: list[str] | None = None
    for profile in client.direct_play:
        failures = []
        if profile.containers and source.container not in profile.containers:
            failures.append("container not supported")
        if profile.codecs and source.codec not in profile.codecs:
            failures.append("audio codec not supported")
        if profile.protocols and PROTOCOL not in profile.protocols:
            failures.append("protocol not supported")
        if profile.max_channels and source.channels > profile.max_channels:
            failures.append("audio channels not supported")
        if best is None or len(failures) < len(best):
            best = failures
    reasons = list(best or [])
    if limit and source.bitrate > limit:
        reasons.append("audio bitrate too high")
    return reasons + [reason for reason in _limitation_failures(client, source) if reason not in reasons]


def _target(track: TrackAudio, profile: TranscodingProfile, limit: int, client: ClientInfo) -> StreamDetails | None:
    """The stream this transcoding profile would give, or None when this server cannot produce one the player's
    limitations on that codec accept."""
    name = codec_name(profile.codec)
    if name not in transcoding.CODECS or profile.protocol.lower() != PROTOCOL:
        return None
    if container_name(profile.container) != _OUTPUT_CONTAINER[name]:
        return None
    codec = transcoding.CODECS[name]
    bitrate = lowest_limit(limit, _ceiling(client, name, "audioBitrate", limit or codec.default_bitrate))
    ceiling = AudioCeiling(
        channels=lowest_limit(profile.max_channels, _ceiling(client, name, "audioChannels", track.channels)),
        sample_rate=_ceiling(client, name, "audioSamplerate", track.sample_rate),
        bit_depth=_ceiling(client, name, "audioBitdepth", track.bit_depth or 0),
    )
    plan = transcoding.chosen_plan(track=track, codec_name=name, bitrate=bitrate, ceiling=ceiling, offset_seconds=0)
    target = StreamDetails(
        protocol=PROTOCOL,
        container=_OUTPUT_CONTAINER[name],
        codec=name,
        channels=plan.channels,
        bitrate=plan.bitrate,
        sample_rate=plan.sample_rate,
        bit_depth=plan.bit_depth,
    )
    # What the codec cannot write (opus below 48 kHz, a bit depth of 20) stays outside the ceilings: no match.
    return None if _limitation_failures(client, target, unknown_passes=True) else target


def _ceiling(client: ClientInfo, codec: str, name: str, current: int) -> int:
    """The most the player's limitations on this codec allow for this attribute of a stream that would
    otherwise have `current` (0 = no ceiling): the lowest "at most", and for "one of" the largest listed value
    not above `current` (else the smallest listed)."""
    ceilings = []
    for item in client.codec_limitations.get(codec, ()):
        values = _numbers(item)
        if item.name != name or not values:
            continue
        if item.comparison == "LessThanEqual":
            ceilings.append(values[0])
        elif item.comparison == "Equals":
            fitting = [value for value in values if not current or value <= current]
            ceilings.append(max(fitting) if fitting else min(values))
    return lowest_limit(*ceilings)


def transcode_decide(
    *, track: TrackAudio, subject: ParamsSubject, client: ClientInfo, user_id: int, max_bitrate: int
) -> TranscodeDecision:
    """What this player gets for this song (a track, or an external song's download as it arrives), with params
    tied to `subject`. `max_bitrate` is the caller's own limit (kbps, 0 = none), applied with the player's; the
    lower wins."""
    source = source_details(track)
    direct_limit = lowest_limit(client.max_bitrate, max_bitrate)
    reasons = _direct_play_failures(client, source, direct_limit)
    if not reasons:
        choice = TranscodeChoice(None, 0, transcoding.NO_CEILING)
        return TranscodeDecision(True, False, (), "", source, None, _sign(choice, subject=subject, user_id=user_id))
    if transcoding.ffmpeg_path() is None:
        error = "transcoding is unavailable on this server"
        return TranscodeDecision(False, False, tuple(reasons), error, source, None, "")
    transcode_limit = lowest_limit(client.max_transcoding_bitrate or client.max_bitrate, max_bitrate)
    for profile in client.transcoding:
        target = _target(track, profile, transcode_limit, client)
        if target is None:
            continue
        choice = TranscodeChoice(
            target.codec, target.bitrate, AudioCeiling(target.channels, target.sample_rate, target.bit_depth)
        )
        params = _sign(choice, subject=subject, user_id=user_id)
        return TranscodeDecision(False, True, tuple(reasons), "", source, target, params)
    error = "no transcoding profile this server can produce (mp3, opus in ogg, aac in adts, flac; over http)"
    return TranscodeDecision(False, False, tuple(reasons), error, source, None, "")


def track_subject(track: Track) -> ParamsSubject:
    """The track and a short fingerprint of its file, so params outlive no re-encode or replacement of it."""
    return ParamsSubject(track.pk, hashlib.sha256(transcoding.file_identity(track).encode()).hexdigest()[:16])


def external_subject(external_id: str) -> ParamsSubject:
    return ParamsSubject(external_id, "")


def _sign(choice: TranscodeChoice, *, subject: ParamsSubject, user_id: int) -> str:
    ceiling = choice.ceiling
    payload = {
        "t": subject.key,
        "u": user_id,
        "f": subject.file_stamp,
        "c": choice.codec_name,
        "b": choice.bitrate,
        "ch": ceiling.channels,
        "sr": ceiling.sample_rate,
        "bd": ceiling.bit_depth,
    }
    return signing.dumps(payload, salt=PARAMS_SALT)  # timestamped: `transcode_params_read` enforces the lifetime


def transcode_params_read(raw: str, *, subject: ParamsSubject, user_id: int) -> TranscodeChoice:
    """The choice signed params carry; anything altered, forged, expired, or issued for another track, file or
    user is refused before it can reach ffmpeg."""
    max_age = settings.TRANSCODE_PARAMS_MAX_AGE
    try:
        payload = signing.loads(raw, salt=PARAMS_SALT, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise TranscodeParamsError(
            f"transcodeParams have expired (they last {max_age} seconds); ask getTranscodeDecision again"
        ) from exc
    except signing.BadSignature as exc:
        raise TranscodeParamsError(
            "transcodeParams were not issued by this server (altered or forged); ask getTranscodeDecision again"
        ) from exc
    if payload.get("t") != subject.key or payload.get("u") != user_id:
        raise TranscodeParamsError("transcodeParams were issued for another song or user; ask getTranscodeDecision")
    if payload.get("f") != subject.file_stamp:
        raise TranscodeParamsError("the song's file has changed since this decision; ask getTranscodeDecision again")
    codec = payload.get("c")
    ceiling = AudioCeiling(int(payload["ch"]), int(payload["sr"]), int(payload["bd"]))
    return TranscodeChoice(codec if codec in transcoding.CODECS else None, int(payload["b"]), ceiling)
