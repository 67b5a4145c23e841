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
