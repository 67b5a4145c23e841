"""The envelope, the three encodings, routing, CORS, client profiles and the version check."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from library.models import Track
from tests.subsonic.conftest import Library
from tests.subsonic.support import SubsonicClient


def test_envelope_attributes(api: SubsonicClient, any_fmt: str) -> None:
    reply = api.call("ping", any_fmt)
    root = reply.body if any_fmt != "xml" else reply.body.attrib
    assert root["status"] == "ok"
    assert root["version"] == "1.16.1"
    assert root["type"] == "mcma"  # never "subsonic": DSub would switch to Madsonic mode
    assert root["serverVersion"]
    assert root["openSubsonic"] in (True, "true")


def test_xml_is_namespaced_text_xml(api: SubsonicClient) -> None:
    response = api.call("ping").response
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    assert b'xmlns="http://subsonic.org/restapi"' in response.content  # type: ignore[attr-defined]


def test_json_uses_real_types_and_string_ids(api: SubsonicClient, library: Library) -> None:
    reply = api.call("getAlbum", "json", id=f"al-{library.abbey.pk}")
    album = reply.body["album"]
    assert album["id"] == f"al-{library.abbey.pk}"
    assert isinstance(album["songCount"], int)
    assert album["songCount"] == 3
    assert isinstance(album["duration"], int)
    assert album["duration"] == (259_000 + 182_000 + 185_000) // 1000
    assert isinstance(album["song"], list)
    song = album["song"][0]
    assert song["isDir"] is False
    assert isinstance(song["id"], str)
    assert isinstance(song["track"], int)
    assert song["genres"] == [{"name": "Rock"}]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", song["created"])
    assert "null" not in reply.response.content.decode()  # type: ignore[attr-defined]


def test_one_element_lists_are_still_json_arrays(api: SubsonicClient, library: Library) -> None:
    reply = api.call("getAlbumList2", "json", type="alphabeticalByName", size=1)
    assert isinstance(reply.body["albumList2"]["album"], list)
    assert len(reply.body["albumList2"]["album"]) == 1


def test_genre_name_is_text_content(api: SubsonicClient, library: Library, fmt: str) -> None:
    reply = api.call("getGenres", fmt)
    genres = {g["value"]: g for g in reply.items("genres", "genre")}
    assert set(genres) == {"Rock", "Pop"}
    assert genres["Rock"]["songCount"] == "4"
    assert genres["Rock"]["albumCount"] == "2"


def test_jsonp_wraps_json_in_the_callback(api: SubsonicClient) -> None:
    response = api.raw("ping", f="jsonp", callback="my.cb_1", **api.auth_params())
    assert response["Content-Type"].startswith("application/javascript")
    body = response.content.decode()  # type: ignore[attr-defined]
    assert body.startswith("my.cb_1(")
    assert body.endswith(");")
    assert json.loads(body[len("my.cb_1(") : -2])["subsonic-response"]["status"] == "ok"


@pytest.mark.parametrize(("callback", "code"), [("alert(1)//", 0), ("", 10), ("a b", 0)])
def test_jsonp_callback_is_validated(api: SubsonicClient, callback: str, code: int) -> None:
    response = api.raw("ping", f="jsonp", callback=callback, **api.auth_params())
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)  # type: ignore[attr-defined]
    assert body["subsonic-response"]["error"]["code"] == code


@pytest.mark.parametrize("suffix", ["", ".view"])
@pytest.mark.parametrize("http", ["get", "post"])
def test_view_suffix_and_post(api: SubsonicClient, fmt: str, suffix: str, http: str) -> None:
    assert api.call("ping", fmt, suffix=suffix, http=http).ok


def test_post_reads_query_string_and_form_body_together(api: SubsonicClient, library: Library) -> None:
    """Old DSub builds POST with every parameter in the query string; formPost clients use the body."""
    params = "&".join(f"{k}={v}" for k, v in {**api.auth_params(), "f": "json"}.items())
    response = api.client.post(f"/rest/getAlbum.view?{params}", {"id": f"al-{library.abbey.pk}"})
    assert json.loads(response.content)["subsonic-response"]["album"]["name"] == "Abbey Road"


def test_unknown_method_is_a_subsonic_error(api: SubsonicClient, fmt: str) -> None:
    reply = api.call("getEverything", fmt)
    assert reply.error_code == 0
    assert "Unknown API method" in reply.error_message


def test_any_path_under_rest_answers_a_document(client: Client) -> None:
    response = client.get("/rest/some/deep/path.html")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    assert b'status="failed"' in response.content


@pytest.mark.parametrize("method", ["getPodcasts", "jukeboxControl", "getChatMessages", "getVideos", "hls"])
def test_unsupported_areas_say_so(api: SubsonicClient, fmt: str, method: str) -> None:
    reply = api.call(method, fmt)
    assert reply.error_code == 0
    assert "not supported" in reply.error_message


def test_cors_headers_and_preflight(api: SubsonicClient) -> None:
    assert api.call("ping").response["Access-Control-Allow-Origin"] == "*"
    preflight = api.client.options(
        "/rest/ping.view", headers={"Origin": "https://app.example", "Access-Control-Request-Headers": "x-custom"}
    )
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Origin"] == "*"
    assert "POST" in preflight["Access-Control-Allow-Methods"]
    assert preflight["Access-Control-Allow-Headers"] == "x-custom"


@pytest.mark.parametrize(("version", "code"), [("2.0.0", 30), ("0.9.0", 20), ("banana", 0)])
def test_incompatible_versions(api: SubsonicClient, version: str, code: int) -> None:
    response = api.raw("ping", f="json", v=version, **api.auth_params())
    assert json.loads(response.content)["subsonic-response"]["error"]["code"] == code  # type: ignore[attr-defined]


def test_old_protocol_versions_are_welcome(api: SubsonicClient) -> None:
    response = api.raw("ping", f="json", v="1.2.0", c="DSub", **api.auth_params())
    assert json.loads(response.content)["subsonic-response"]["status"] == "ok"  # type: ignore[attr-defined]


def test_legacy_clients_get_no_open_subsonic_root_attributes(api: SubsonicClient) -> None:
    reply = api.call("ping", "xml", client_name="DSub")
    assert "openSubsonic" not in reply.body.attrib
    assert "type" not in reply.body.attrib


def test_minimal_clients_get_reduced_songs(api: SubsonicClient, library: Library) -> None:
    reply = api.call("getAlbum", "json", client_name="SubMusic", id=f"al-{library.abbey.pk}")
    assert set(reply.body["album"]["song"][0]) == {"id", "parent", "isDir", "title"}


def test_bad_integer_parameter_is_error_0(api: SubsonicClient, fmt: str) -> None:
    reply = api.call("getAlbumList2", fmt, type="newest", size="ten")
    assert reply.error_code == 0
    assert "size" in reply.error_message


def test_missing_required_parameter_is_error_10(api: SubsonicClient, fmt: str) -> None:
    reply = api.call("getAlbum", fmt)
    assert reply.error_code == 10


def test_non_ascii_parameters_in_query_and_form(api: SubsonicClient, library: Library) -> None:
    by_get = api.call("search3", "json", query="Début")
    assert [a["name"] for a in by_get.body["searchResult3"]["album"]] == ["Début"]
    by_post = api.call("search3", "json", http="post", query="Björk")
    assert [a["name"] for a in by_post.body["searchResult3"]["artist"]] == ["Björk"]


def test_long_repeated_parameter_lists_are_accepted(api: SubsonicClient, library: Library) -> None:
    """Django's QueryDict stops at 1,000 fields; players save queues far longer than that."""
    songs = [f"tr-{t.pk}" for t in library.tracks] * 200  # 1,400 ids
    assert api.call("savePlayQueue", "json", id=songs, current=songs[0]).ok
    assert api.call("savePlayQueue", "json", http="post", id=songs, current=songs[0]).ok
    assert len(api.call("getPlayQueue", "json").body["playQueue"]["entry"]) == 1400


def test_absurdly_long_lists_are_refused_cleanly(api: SubsonicClient, library: Library) -> None:
    reply = api.call("savePlayQueue", "json", http="post", id=["tr-1"] * 6000)
    assert reply.error_code == 0


def test_control_characters_from_tags_never_break_xml(api: SubsonicClient, library: Library) -> None:
    Track.objects.filter(pk=library.tracks[0].pk).update(title='Bad\x01 <tag> & "quote"\x1f')
    reply = api.call("getSong", "xml", id=f"tr-{library.tracks[0].pk}")  # parses and validates
    assert reply.one("song")["title"] == 'Bad <tag> & "quote"'


def test_empty_library_is_not_an_error(api: SubsonicClient, fmt: str) -> None:
    for method, key in (("getIndexes", "indexes"), ("getArtists", "artists")):
        reply = api.call(method, fmt)
        assert reply.ok
        assert reply.items(key, "index") == []
    assert api.call("search3", fmt, query="").items("searchResult3", "song") == []
