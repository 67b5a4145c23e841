from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings

from library.models import Track
from tests.audio import AudioMaker
from tests.factories.library import TrackFactory
from tests.fakes.metadata_server import FakeMetadataServices, metadata_server, recording_record


@pytest.fixture
def fake_metadata(settings: Any) -> Iterator[FakeMetadataServices]:
    """Fake AcoustID and MusicBrainz that the settings point at, with short waits so retries stay quick."""
    with metadata_server() as fake:
        fake.recordings[recording_record()["id"]] = recording_record()
        settings.MUSICBRAINZ_ENABLED = True
        settings.ACOUSTID_API_KEY = "test-key"
        settings.ACOUSTID_URL = fake.base_url
        settings.MUSICBRAINZ_URL = fake.base_url
        settings.METADATA_TIMEOUT_SECONDS = 2.0
        settings.METADATA_RETRY_BASE_SECONDS = 0.01
        settings.METADATA_HTTP_RETRIES = 2
        settings.MUSICBRAINZ_MIN_INTERVAL_SECONDS = 0.0
        settings.ACOUSTID_MIN_INTERVAL_SECONDS = 0.0
        yield fake


def fpcalc(path: Path) -> str:
    """The fingerprint chromaprint's own tool gives the file (what the fake AcoustID is told to recognise)."""
    # -length (120 s, as pyacoustid reads) below the duration: fpcalc 1.5.1 with FFmpeg 5 exits 3 when it
    # decodes to the very end.
    run = subprocess.run(["fpcalc", "-json", "-length", "120", str(path)], check=True, capture_output=True, timeout=60)
    return str(json.loads(run.stdout)["fingerprint"])


@pytest.fixture
def audio_track(audio_maker: AudioMaker, db: None) -> Track:
    """An untagged-looking track ("Track 01" on "Unknown album") whose file is a real 150 s sine (mp3):
    longer than the 120 s both fingerprinters read."""
    relative = "library/unknown/track01.mp3"
    audio_maker.make(Path(django_settings.MEDIA_ROOT) / relative, "mp3", seconds=150.0)
    return TrackFactory.create(title="Track 01", path=relative, track_number=1, album__name="Unknown album")
