"""The Cover Art Archive (https://musicbrainz.org/doc/Cover_Art_Archive/API): the only place that talks to it.
One call: the front image of a MusicBrainz release, at the archive's 1200 px thumbnail size (its originals can
be tens of megabytes)."""

from __future__ import annotations

from django.conf import settings

from library.remote import RemoteUnavailableError, get_bytes

# Larger than any 1200 px JPEG the archive serves; a bigger answer is not a thumbnail.
MAX_IMAGE_BYTES = 16 * 1024 * 1024


class CoverArchiveUnavailableError(RemoteUnavailableError):
    """No usable answer (down, slow, rate limited, 5xx): the same question may work later."""


def release_front(release_id: str) -> tuple[bytes, str] | None:
    """(image bytes, content type) of the release's front cover, or None when it has none."""
    return get_bytes(
        f"{settings.COVERART_URL.rstrip('/')}/release/{release_id}/front-1200",
        service="coverartarchive",
        timeout=settings.COVERART_TIMEOUT_SECONDS,
        limit=MAX_IMAGE_BYTES,
        unavailable=CoverArchiveUnavailableError,
    )
