"""OpenSubsonic playbackReport: reportPlayback's state machine, getNowPlaying's timeline, and the rule that a
play reported through both reportPlayback and scrobble counts once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import User
from library.models import NowPlaying, Play, PlaySource, TrackAnnotation
from tests.subsonic.conftest import Library
from tests.subsonic.support import SubsonicClient


def _report(api: SubsonicClient, fmt: str, song_id: int, state: str, position_ms: int, **extra: Any) -> bool:
    reply = api.call(
        "reportPlayback",
        fmt,
        client_name="Feishin",
        mediaId=f"tr-{song_id}",
        mediaType="song",
        positionMs=str(position_ms),
        state=state,
        **extra,
    )
    return reply.ok


def test_extension_is_advertised(api: SubsonicClient, fmt: str) -> None:
    names = [e["name"] for e in api.call("getOpenSubsonicExtensions", fmt).items("openSubsonicExtensions")]
    assert "playbackReport" in names


def test_state_machine_and_now_playing(api: SubsonicClient, user: User, library: Library, fmt: str) -> None:
    song = library.track("Something")  # 182 s
    assert _report(api, fmt, song.pk, "starting", 0)
    session = NowPlaying.objects.get(user=user, player="Feishin")
    started = session.started_at
    assert (session.state, session.position_ms, session.playback_rate) == ("starting", 0, 1.0)

    assert _report(api, fmt, song.pk, "playing", 10_000, playbackRate="1.5")
    # Twenty seconds later at 1.5x the player is thirty seconds further on.
    NowPlaying.objects.filter(pk=session.pk).update(reported_at=timezone.now() - timedelta(seconds=20))
    entry = api.call("getNowPlaying", fmt).one("nowPlaying", "entry")
    assert entry["state"] == "playing"
    assert entry["playbackRate"] == "1.5"
    assert 40_000 <= int(entry["positionMs"]) < 41_000
    assert entry["title"] == "Something"

    assert _report(api, fmt, song.pk, "paused", 42_000)
    NowPlaying.objects.filter(pk=session.pk).update(reported_at=timezone.now() - timedelta(minutes=1))
    entry = api.call("getNowPlaying", fmt).one("nowPlaying", "entry")
    assert (entry["state"], entry["positionMs"]) == ("paused", "42000")  # a paused player does not move on

    # Same song, same session: it is the same listening, so the start time stays.
    assert NowPlaying.objects.get(pk=session.pk).started_at == started
    assert not Play.objects.exists()


def test_extrapolation_stops_at_the_end_of_the_song(api: SubsonicClient, user: User, library: Library) -> None:
    song = library.track("Help!")  # 138 s
    assert _report(api, "json", song.pk, "playing", 130_000)
    NowPlaying.objects.filter(user=user).update(reported_at=timezone.now() - timedelta(seconds=60))
    assert api.call("getNowPlaying", "json").one("nowPlaying", "entry")["positionMs"] == "138000"


def test_a_paused_player_stays_listed_past_the_songs_end(api: SubsonicClient, user: User, library: Library) -> None:
    song = library.track("Help!")
    assert _report(api, "xml", song.pk, "paused", 5_000)
    NowPlaying.objects.filter(user=user).update(started_at=timezone.now() - timedelta(minutes=30))
    assert api.call("getNowPlaying", "xml").one("nowPlaying", "entry")["state"] == "paused"


def test_stopped_after_half_the_song_counts_one_play(api: SubsonicClient, user: User, library: Library) -> None:
    song = library.track("Something")
    assert _report(api, "xml", song.pk, "starting", 0)
    assert _report(api, "xml", song.pk, "stopped", 95_000)
    assert _report(api, "xml", song.pk, "stopped", 100_000)  # a repeated stop is the same session
    play = Play.objects.get()
    assert (play.track_id, play.client, play.source) == (song.pk, "Feishin", PlaySource.PLAYBACK_REPORT)
    assert play.played_at == NowPlaying.objects.get(user=user).started_at
    assert TrackAnnotation.objects.get(user=user, track=song).play_count == 1


def test_playing_the_song_again_is_a_new_play(api: SubsonicClient, library: Library) -> None:
    song = library.track("Something")
    for _ in range(2):
        assert _report(api, "json", song.pk, "starting", 0)
        assert _report(api, "json", song.pk, "stopped", 182_000)
    assert Play.objects.count() == 2


@pytest.mark.parametrize(
    ("duration_ms", "position_ms", "extra", "counted"),
    [
        (182_000, 30_000, {}, False),  # skipped early: not a listen
        (182_000, 91_000, {}, True),  # half-way
        (182_000, 95_000, {"ignoreScrobble": "true"}, False),  # the player says so
        (900_000, 240_000, {}, True),  # four minutes of a long song suffice
        (900_000, 239_000, {}, False),
    ],
)
def test_what_a_stop_counts(
    api: SubsonicClient, library: Library, duration_ms: int, position_ms: int, extra: dict[str, Any], counted: bool
) -> None:
    song = library.track("Something")
    type(song).objects.filter(pk=song.pk).update(duration_ms=duration_ms)
    assert _report(api, "xml", song.pk, "starting", 0)
    assert _report(api, "xml", song.pk, "stopped", position_ms, **extra)
    assert Play.objects.exists() is counted


def test_scrobble_then_report_counts_once(api: SubsonicClient, user: User, library: Library, fmt: str) -> None:
    song = library.track("Something")
    assert _report(api, fmt, song.pk, "starting", 0)
    assert api.call("scrobble", fmt, client_name="Feishin", id=f"tr-{song.pk}").ok
    assert _report(api, fmt, song.pk, "stopped", 182_000)
    assert Play.objects.get().source == PlaySource.SCROBBLE
    assert TrackAnnotation.objects.get(user=user, track=song).play_count == 1


def test_report_then_late_scrobble_counts_once(api: SubsonicClient, user: User, library: Library, fmt: str) -> None:
    first, second = library.track("Something"), library.track("Help!")
    assert _report(api, fmt, first.pk, "starting", 0)
    assert _report(api, fmt, first.pk, "stopped", 182_000)
    # The player moved on, then sends the classic scrobble of the song it finished.
    assert _report(api, fmt, second.pk, "starting", 0)
    assert api.call("scrobble", fmt, client_name="Feishin", id=f"tr-{first.pk}").ok
    assert Play.objects.get().source == PlaySource.PLAYBACK_REPORT
    assert TrackAnnotation.objects.get(user=user, track=first).play_count == 1


def test_another_players_scrobble_is_another_play(api: SubsonicClient, library: Library) -> None:
    song = library.track("Something")
    assert _report(api, "json", song.pk, "starting", 0)
    assert _report(api, "json", song.pk, "stopped", 182_000)
    assert api.call("scrobble", "json", client_name="DSub", id=f"tr-{song.pk}").ok
    assert Play.objects.count() == 2


def test_scrobbles_alone_are_never_merged(api: SubsonicClient, library: Library) -> None:
    song = library.track("Something")
    for _ in range(2):
        assert api.call("scrobble", "json", client_name="Feishin", id=f"tr-{song.pk}").ok
    assert Play.objects.count() == 2


def test_report_playback_errors(api: SubsonicClient, library: Library, fmt: str) -> None:
    song = f"tr-{library.tracks[0].pk}"
    ok: dict[str, Any] = {"mediaId": song, "mediaType": "song", "positionMs": "0", "state": "playing"}
    for missing in ok:
        params: dict[str, Any] = {k: v for k, v in ok.items() if k != missing}
        assert api.call("reportPlayback", fmt, **params).error_code == 10, missing
    bad = [
        ("state", "rewinding"),
        ("mediaType", "podcast"),
        ("mediaType", "video"),
        ("positionMs", "-1"),
        ("positionMs", "soon"),
        ("playbackRate", "fast"),
        ("playbackRate", "nan"),
        ("playbackRate", "0"),
        ("playbackRate", "1000"),
        ("ignoreScrobble", "perhaps"),
    ]
    for name, value in bad:
        reply = api.call("reportPlayback", fmt, **{**ok, name: value})
        assert reply.error_code == 0, (name, value)
        assert name in reply.error_message or "rate" in reply.error_message
    assert api.call("reportPlayback", fmt, **{**ok, "mediaId": "tr-999999"}).error_code == 70
    assert api.call("reportPlayback", fmt, **{**ok, "mediaId": f"al-{library.abbey.pk}"}).error_code == 70
    assert not NowPlaying.objects.exists()


def test_report_playback_by_form_post(api: SubsonicClient, user: User, library: Library) -> None:
    song = library.track("Yesterday")
    reply = api.call(
        "reportPlayback", "json", http="post", mediaId=f"tr-{song.pk}", mediaType="song", positionMs="5", state="paused"
    )
    assert reply.ok
    assert NowPlaying.objects.get(user=user).state == "paused"


def test_legacy_clients_get_no_timeline(api: SubsonicClient, user: User, library: Library) -> None:
    assert _report(api, "xml", library.track("Help!").pk, "playing", 5_000)
    entry = api.call("getNowPlaying", "xml", client_name="DSub").one("nowPlaying", "entry")  # strict 1.16.1 XSD
    assert "state" not in entry
    assert "positionMs" not in entry
