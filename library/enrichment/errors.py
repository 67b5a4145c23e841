"""What can go wrong while talking to an identification service, in the vocabulary the services and tasks use."""

from __future__ import annotations

from mcma.errors import ApplicationError


class MetadataServiceUnavailableError(ApplicationError):
    """The service is down, slow, or asked us to slow down: the same work may succeed after `retry_after` s."""

    code = "metadata_service_unavailable"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message, details={"retry_after": retry_after})
        self.retry_after = retry_after


class MetadataAnswerMalformedError(ApplicationError):
    """The answer is not the JSON document the service documents."""

    code = "metadata_answer_malformed"


class MetadataRecordIncompleteError(ApplicationError):
    """A MusicBrainz record lacks a field identification needs (e.g. a recording without a title)."""

    code = "metadata_record_incomplete"


class FingerprintError(ApplicationError):
    """fpcalc could not fingerprint the file (missing tool, unreadable or too short audio)."""

    code = "fingerprint_failed"


class MetadataNotFoundError(ApplicationError):
    """HTTP 404: the service knows no record with that id."""

    code = "metadata_not_found"
