from __future__ import annotations

from tests.subsonic.support import SubsonicClient


def test_ping(api: SubsonicClient, any_fmt: str) -> None:
    reply = api.call("ping", any_fmt)
    assert reply.ok


def test_license_is_valid_without_a_far_future_date(api: SubsonicClient, any_fmt: str) -> None:
    license_ = api.call("getLicense", any_fmt).one("license")
    assert license_["valid"] == "true"
    assert "licenseExpires" not in license_  # Ultrasonic crashed on Airsonic's year-292278994 date


def test_extensions_advertise_only_what_works(api: SubsonicClient, fmt: str) -> None:
    names = {item["name"] for item in api.call("getOpenSubsonicExtensions", fmt).items("openSubsonicExtensions")}
    basics = {"formPost", "apiKeyAuthentication", "songLyrics", "indexBasedQueue", "topSongsByArtistId"}
    basics |= {"playbackReport"}
    # stream seeks with timeOffset by transcoding, and players ask for transcode decisions (ffmpeg is here)
    assert names == basics | {"transcodeOffset", "transcoding"}
