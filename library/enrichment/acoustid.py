"""AcoustID: the only importer of pyacoustid. Fingerprints with chromaprint and looks the fingerprints up.

pyacoustid decodes with audioread (ffmpeg) into libchromaprint when both are there, else it runs `fpcalc`: the
library path is preferred because fpcalc 1.5.1 built against FFmpeg 5 exits with status 3 at every file's end.

pyacoustid computes the fingerprint; the lookup itself goes through `library.remote` rather than
`acoustid.lookup`, whose origin is a process-wide global and which has no retry, User-Agent or shared rate limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import acoustid
from django.conf import settings

from library import remote
from library.enrichment.errors import (
    FingerprintError,
    MetadataAnswerMalformedError,
    MetadataNotFoundError,
    MetadataServiceUnavailableError,
)

SERVICE = "acoustid"


@dataclass(frozen=True)
class Fingerprint:
    duration: int  # seconds, as fpcalc measured them
    value: str


@dataclass(frozen=True)
class AcoustidMatch:
    score: float
    recording_id: str


def fingerprint(path: Path) -> Fingerprint:
    try:
        duration, value = acoustid.fingerprint_file(str(path))
    except (acoustid.FingerprintGenerationError, acoustid.NoBackendError, OSError) as exc:
        raise FingerprintError(f"fpcalc could not fingerprint the file: {exc}") from exc
    text = value.decode("ascii") if isinstance(value, bytes) else str(value)
    if not text:
        raise FingerprintError("fpcalc gave an empty fingerprint (silent or too short audio)")
    return Fingerprint(duration=round(float(duration)), value=text)


def lookup(print_: Fingerprint) -> list[AcoustidMatch]:
    """The recordings AcoustID links to this fingerprint, best score first (empty: no match)."""
    data = remote.get_json(
        settings.ACOUSTID_URL.rstrip("/") + "/v2/lookup",
        service=SERVICE,
        method="POST",
        timeout=settings.METADATA_TIMEOUT_SECONDS,
        interval=settings.ACOUSTID_MIN_INTERVAL_SECONDS,
        unavailable=MetadataServiceUnavailableError,
        params={
            "client": settings.ACOUSTID_API_KEY,
            "format": "json",
            "meta": "recordingids",
            "duration": str(print_.duration),
            "fingerprint": print_.value,
        },
    )
    if data is None:
        raise MetadataNotFoundError("AcoustID has no lookup here (HTTP 404)")
    return sorted(_matches(data), key=lambda match: -match.score)


def _matches(data: dict[str, Any]) -> list[AcoustidMatch]:
    if data.get("status") != "ok" or not isinstance(data.get("results"), list):
        raise MetadataAnswerMalformedError("AcoustID answered without status ok and a results list")
    found: dict[str, float] = {}
    for result in data["results"]:
        if not isinstance(result, dict) or not isinstance(result.get("score"), int | float):
            raise MetadataAnswerMalformedError("an AcoustID result has no score")
        for recording in result.get("recordings") or ():
            recording_id = recording.get("id") if isinstance(recording, dict) else None
            if isinstance(recording_id, str) and recording_id:
                found[recording_id] = max(found.get(recording_id, 0.0), float(result["score"]))
    return [AcoustidMatch(score=score, recording_id=recording_id) for recording_id, score in found.items()]
