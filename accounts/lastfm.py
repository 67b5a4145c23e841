"""The Last.fm web-service API 2.0 (https://www.last.fm/api): the only place that talks to it. The web
authorisation (a browser visits Last.fm, which sends it back with a token), the token's exchange for a session
key, and the two scrobbling calls. What to send and when is the callers' business; this module only says what
Last.fm answered.

Written on `requests` rather than pylast: pylast always speaks HTTPS to Last.fm's own host, so it could neither
be pointed at a mirror (Libre.fm speaks the same API) nor at the test double on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests
from django.conf import settings


class LastFmSessionRejectedError(Exception):
    """Last.fm does not (or no longer) accept the session key or the token: the user must authorise again."""


class LastFmUnavailableError(Exception):
    """No usable answer (down, timed out, rate limited, or this server's API key refused): the same call may work
    later, once the service or the server's settings are back."""


class LastFmRefusedError(Exception):
    """Last.fm took the call and will never take this submission (bad parameters, a scrobble it ignores)."""


@dataclass(frozen=True)
class Session:
    username: str
    key: str


@dataclass(frozen=True)
class TrackInfo:
    artist: str
    track: str
    album: str = ""
    album_artist: str = ""
    track_number: int | None = None
    duration_seconds: int | None = None
    mbid: str = ""


# Error codes (https://www.last.fm/api/errorcodes): which need the user to authorise again, which may pass later.
_SESSION_REJECTED = frozenset({4, 9, 14, 15})  # authentication failed, invalid session, token unauthorised/expired
_TRY_LATER = frozenset({8, 10, 11, 13, 16, 26, 29})  # backend failure, offline, rate limit; the server's key/secret


def configured() -> bool:
    """The server has an API account (LASTFM_API_KEY and LASTFM_API_SECRET): without one nothing can be sent."""
    return bool(settings.LASTFM_API_KEY and settings.LASTFM_API_SECRET)


def authorize_url(callback: str) -> str:
    """Where to send the user's browser; Last.fm sends it back to `callback` with `token=` added."""
    return f"{settings.LASTFM_AUTH_URL}?{urlencode({'api_key': settings.LASTFM_API_KEY, 'cb': callback})}"


def signature(params: dict[str, str]) -> str:
    """`api_sig`: the MD5 of every parameter's name and value in name order, then the shared secret."""
    text = "".join(f"{name}{params[name]}" for name in sorted(params)) + settings.LASTFM_API_SECRET
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def _call(method: str, params: dict[str, str], *, post: bool) -> dict[str, Any]:
    signed = {**params, "method": method, "api_key": settings.LASTFM_API_KEY}
    signed["api_sig"] = signature(signed)
    signed["format"] = "json"  # not signed: Last.fm leaves `format` out of the signature
    try:
        response = requests.request(
            "POST" if post else "GET",
            settings.LASTFM_API_URL,
            params=None if post else signed,
            data=signed if post else None,
            timeout=settings.LASTFM_TIMEOUT_SECONDS,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise LastFmUnavailableError(type(exc).__name__) from exc
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict) and "error" in data:
        code = data.get("error")
        message = f"error {code}: {str(data.get('message') or '')[:200]}"
        if code in _SESSION_REJECTED:
            raise LastFmSessionRejectedError(message)
        if code in _TRY_LATER:
            raise LastFmUnavailableError(message)
        raise LastFmRefusedError(message)
    if response.status_code >= 300 or not isinstance(data, dict):
        raise LastFmUnavailableError(f"HTTP {response.status_code}")
    return data


def session_get(token: str) -> Session:
    """auth.getSession: the session key a token authorised by the user stands for (it never expires)."""
    session = _call("auth.getSession", {"token": token}, post=False).get("session")
    if not isinstance(session, dict) or not session.get("key"):
        raise LastFmUnavailableError("the answer holds no session")
    return Session(username=str(session.get("name") or "")[:255], key=str(session["key"]))


def _track_params(track: TrackInfo) -> dict[str, str]:
    params = {
        "artist": track.artist,
        "track": track.track,
        "album": track.album,
        "albumArtist": track.album_artist,
        "trackNumber": str(track.track_number or ""),
        "duration": str(track.duration_seconds or ""),
        "mbid": track.mbid,
    }
    return {name: value for name, value in params.items() if value}


def now_playing_update(*, session_key: str, track: TrackInfo) -> None:
    _call("track.updateNowPlaying", {**_track_params(track), "sk": session_key}, post=True)


def scrobble(*, session_key: str, track: TrackInfo, timestamp: int) -> None:
    """track.scrobble of one play that started at `timestamp` (Unix seconds)."""
    params = {f"{name}[0]": value for name, value in _track_params(track).items()}
    data = _call("track.scrobble", {**params, "timestamp[0]": str(timestamp), "sk": session_key}, post=True)
    scrobbles = data.get("scrobbles")
    if not isinstance(scrobbles, dict) or not isinstance(scrobbles.get("@attr"), dict):
        raise LastFmUnavailableError("the answer holds no scrobble counts")
    if str(scrobbles["@attr"].get("accepted")) != "1":
        raise LastFmRefusedError(f"ignored by Last.fm: {_ignored_reason(scrobbles.get('scrobble'))}")


def _ignored_reason(scrobbled: Any) -> str:
    ignored = scrobbled.get("ignoredMessage") if isinstance(scrobbled, dict) else None
    reason = (ignored.get("#text") or ignored.get("code")) if isinstance(ignored, dict) else None
    return str(reason or "no reason given")[:200]
