"""star/unstar (every id form), setRating, scrobble (plays vs now playing)."""

from __future__ import annotations

from datetime import UTC, datetime

from accounts.models import User
from library.models import AlbumAnnotation, ArtistAnnotation, NowPlaying, Play, TrackAnnotation
from tests.subsonic.conftest import Library
from tests.subsonic.support import SubsonicClient


def test_star_and_unstar_every_kind(api: SubsonicClient, user: User, library: Library, fmt: str) -> None:
    song = library.track("Something")
    reply = api.call(
        "star",
        fmt,
        id=[f"tr-{song.pk}", f"al-{library.help_.pk}"],
        albumId=f"al-{library.abbey.pk}",
        artistId=f"ar-{library.bjork.pk}",
    )
    assert reply.ok
    assert TrackAnnotation.objects.get(user=user, track=song).starred_at is not None
    assert set(
        AlbumAnnotation.objects.filter(user=user, starred_at__isnull=False).values_list("album_id", flat=True)
    ) == {library.help_.pk, library.abbey.pk}
    assert ArtistAnnotation.objects.get(user=user, artist=library.bjork).starred_at is not None
    assert api.call("unstar", fmt, id=f"tr-{song.pk}", albumId=f"al-{library.abbey.pk}").ok
    assert TrackAnnotation.objects.get(user=user, track=song).starred_at is None
    assert AlbumAnnotation.objects.get(user=user, album=library.abbey).starred_at is None


def test_star_errors(api: SubsonicClient, library: Library, fmt: str) -> None:
    assert api.call("star", fmt).error_code == 10
    assert api.call("star", fmt, id="tr-999999").error_code == 70
    assert api.call("star", fmt, albumId="tr-1").error_code == 70


def test_set_rating(api: SubsonicClient, user: User, library: Library, fmt: str) -> None:
    assert api.call("setRating", fmt, id=f"al-{library.abbey.pk}", rating=4).ok
    assert AlbumAnnotation.objects.get(user=user, album=library.abbey).rating == 4
    assert api.call("getAlbum", fmt, id=f"al-{library.abbey.pk}").one("album")["userRating"] == "4"
    assert api.call("setRating", fmt, id=f"al-{library.abbey.pk}", rating=0).ok
    assert AlbumAnnotation.objects.get(user=user, album=library.abbey).rating == 0


def test_set_rating_errors(api: SubsonicClient, library: Library, fmt: str) -> None:
    song = f"tr-{library.tracks[0].pk}"
    assert api.call("setRating", fmt, rating="3").error_code == 10
    assert api.call("setRating", fmt, id=song).error_code == 10
    assert api.call("setRating", fmt, id=song, rating="6").error_code == 0
    assert api.call("setRating", fmt, id=song, rating="five").error_code == 0
    assert api.call("setRating", fmt, id="ar-999999", rating="1").error_code == 70


def test_scrobble_submission_counts_plays(api: SubsonicClient, user: User, library: Library, fmt: str) -> None:
    first, second = library.track("Help!"), library.track("Yesterday")
    times = ["1700000000000", "1700000300000"]
    assert api.call("scrobble", fmt, client_name="Feishin", id=[f"tr-{first.pk}", f"tr-{second.pk}"], time=times).ok
    plays = list(Play.objects.order_by("played_at"))
    assert [p.track_id for p in plays] == [first.pk, second.pk]
    assert plays[0].played_at == datetime.fromtimestamp(1_700_000_000, tz=UTC)
    assert plays[0].client == "Feishin"
    assert AlbumAnnotation.objects.get(user=user, album=library.help_).play_count == 2
    songs = api.call("getAlbum", fmt, id=f"al-{library.help_.pk}").items("album", "song")
    assert {s["title"]: s["playCount"] for s in songs} == {"Help!": "1", "Yesterday": "1"}


def test_scrobble_now_playing_does_not_count(api: SubsonicClient, user: User, library: Library, fmt: str) -> None:
    song = library.track("Help!")
    assert api.call("scrobble", fmt, client_name="DSub", id=f"tr-{song.pk}", submission="false").ok
    assert not Play.objects.exists()
    assert NowPlaying.objects.get(user=user).player == "DSub"


def test_scrobble_errors(api: SubsonicClient, library: Library, fmt: str) -> None:
    song = f"tr-{library.tracks[0].pk}"
    assert api.call("scrobble", fmt).error_code == 10
    assert api.call("scrobble", fmt, id=[song, song], time="1700000000000").error_code == 0
    assert api.call("scrobble", fmt, id=song, submission="maybe").error_code == 0
    assert api.call("scrobble", fmt, id="tr-999999").error_code == 70
