"""Domain errors of the accounts app."""

from __future__ import annotations

from mcma.errors import ConflictError, InvalidInputError, ServiceUnavailableError


class SubsonicPasswordUnavailableError(ConflictError):
    """The stored app-password can't be decrypted (SUBSONIC_SECRET_KEY changed): the user must regenerate it."""

    code = "subsonic_password_unavailable"

    def __init__(self, message: str = "", *, details: dict[str, object] | None = None) -> None:
        super().__init__(
            message
            or "Your Subsonic password can no longer be read (the server key changed); "
            "regenerate your Subsonic password.",
            details=details,
        )


class PasswordRejectedError(InvalidInputError):
    """A new login password failed validation, or the old password given was wrong."""

    code = "password_rejected"


class ListenBrainzTokenInvalidError(InvalidInputError):
    """ListenBrainz does not know the token given."""

    code = "listenbrainz_token_invalid"


class ListenBrainzUnreachableError(ServiceUnavailableError):
    """ListenBrainz could not be asked whether the token is valid; nothing was changed."""

    code = "listenbrainz_unavailable"


class LastFmNotConfiguredError(ConflictError):
    """The server has no Last.fm API account (LASTFM_API_KEY, LASTFM_API_SECRET): nobody can connect."""

    code = "lastfm_not_configured"


class LastFmAuthorizationInvalidError(InvalidInputError):
    """The return from Last.fm's authorisation page can't be used: a forged or stale state, or a token Last.fm
    does not accept (the user declined, or took too long)."""

    code = "lastfm_authorization_invalid"


class LastFmUnreachableError(ServiceUnavailableError):
    """Last.fm could not be asked for the session; nothing was changed."""

    code = "lastfm_unavailable"
