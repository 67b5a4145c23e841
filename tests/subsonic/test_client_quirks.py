"""What real players trip over, each pinned in XML and JSON (every answer is validated against its profile's
schema by the test client)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from django.test import Client
from PIL import Image

from library import services
from library.models import Album
from library.storage import store_many_bytes
from tests.factories.accounts import UserFactory
from tests.subsonic.conftest import Library
from tests.subsonic.support import NS, SubsonicClient


def _child_names(reply_body: object, fmt: str, element: str) -> list[str]:
    if fmt == "xml":
        node = reply_body.find(NS + element)  # type: ignore[attr-defined]
        return [child.tag.removeprefix(NS) for child in node]
    return [key for key, value in reply_body[element].items() if isinstance(value, list | dict)]  # type: ignore[index]


def test_get_album_lists_songs_before_the_open_subsonic_children(
    api: SubsonicClient, library: Library, fmt: str
) -> None:
    """Clients that read the first child element of `<album>` as its first song broke on `<genres>`."""
    reply = api.call("getAlbum", fmt, id=f"al-{library.abbey.pk}")
    names = _child_names(reply.body, fmt, "album")
    assert "genres" in names
    assert "releaseDate" in names
    songs = [i for i, name in enumerate(names) if name == "song"]
    assert songs == list(range(len(songs)))  # every song first, nothing in between
    assert len(reply.items("album", "song")) == 3


def test_get_indexes_last_modified_is_integer_milliseconds(api: SubsonicClient, library: Library, fmt: str) -> None:
    last_modified = api.call("getIndexes", fmt).one("indexes")["lastModified"]
    assert last_modified.isdigit()
    assert int(last_modified) > 1_600_000_000_000  # milliseconds, not seconds


def test_sort_name_is_the_display_sort_name(api: SubsonicClient, library: Library, fmt: str) -> None:
    """Not the folded key ("beatles"): the name as people file it."""
    artists = {a["name"]: a["sortName"] for a in api.call("getArtists", fmt).items("artists", "index", "artist")}
    assert artists == {"The Beatles": "Beatles, The", "Björk": "Björk"}
    assert api.call("getArtist", fmt, id=f"ar-{library.beatles.pk}").one("artist")["sortName"] == "Beatles, The"
    album = api.call("getAlbum", fmt, id=f"al-{library.debut.pk}")
    assert album.one("album")["sortName"] == "Début"
    assert [s["sortName"] for s in album.items("album", "song")] == ["Human Behaviour", "Venus as a Boy"]
    listed = api.call("getAlbumList", fmt, type="alphabeticalByName").items("albumList", "album")
    assert {a["title"]: a["sortName"] for a in listed}["Help!"] == "Help!"


def test_every_album_song_and_artist_carries_a_cover_art_id(api: SubsonicClient, library: Library, fmt: str) -> None:
    """castme and others fetch `coverArt` unconditionally; none of the fixture albums has art."""
    album = api.call("getAlbum", fmt, id=f"al-{library.abbey.pk}")
    assert album.one("album")["coverArt"] == f"al-{library.abbey.pk}"
    assert {s["coverArt"] for s in album.items("album", "song")} == {f"al-{library.abbey.pk}"}
    artist = api.call("getArtist", fmt, id=f"ar-{library.bjork.pk}")
    assert artist.one("artist")["coverArt"] == f"ar-{library.bjork.pk}"
    assert [a["coverArt"] for a in artist.items("artist", "album")] == [f"al-{library.debut.pk}"]
    directory = api.call("getMusicDirectory", fmt, id=f"ar-{library.beatles.pk}").items("directory", "child")
    assert all(child.get("coverArt") for child in directory)
    found = api.call("search3", fmt, query="")
    for kind in ("artist", "album", "song"):
        items = found.items("searchResult3", kind)
        assert items
        assert all(item.get("coverArt") for item in items), kind


def test_get_cover_art_serves_a_placeholder_when_nothing_better_exists(
    api: SubsonicClient, library: Library, settings: Any
) -> None:
    song = library.track("Something")
    backgrounds = []
    for cover_id, size, side in (
        (f"al-{library.abbey.pk}", "", 600),  # no size: the default
        (f"tr-{song.pk}", "100", 128),  # snapped up to a size bucket like every cover
        (f"ar-{library.bjork.pk}", "300", 300),
        (f"al-{library.abbey.pk}", "", 600),  # drawn once, then served from the cache
    ):
        response = api.raw("getCoverArt", id=cover_id, size=size, **api.auth_params())
        assert response.status_code == 200, cover_id
        assert response["Content-Type"].startswith("image/")
        with Image.open(io.BytesIO(b"".join(response.streaming_content))) as image:  # type: ignore[attr-defined]
            assert image.size == (side, side)
            backgrounds.append(image.convert("RGB").getpixel((side - 1, side - 1)))
            colours = image.convert("RGB").getcolors(maxcolors=side * side) or []
            assert len(colours) > 2, cover_id  # the name is written on it
    assert len(set(backgrounds)) == 3  # a colour derived from each item's id
    drawn = sorted((Path(settings.MCMA_CACHE_DIR) / "covers" / "placeholder").rglob("*.png"))
    assert len(drawn) == 3


def test_get_cover_art_of_an_unknown_or_hidden_item_is_still_error_70(
    api: SubsonicClient, library: Library, fmt: str
) -> None:
    private = services.playlist_create(owner=UserFactory.create(), name="secret")
    for cover_id in ("al-999999", "ar-999999", "tr-999999", f"pl-{private.pk}"):
        assert api.call("getCoverArt", fmt, id=cover_id).error_code == 70, cover_id


def test_artist_image_urls_are_public_signed_links_when_the_library_has_a_picture(
    api: SubsonicClient, library: Library, fmt: str, client: Client
) -> None:
    """getArtist `artistImageUrl` and getArtistInfo2's image URLs: only when the artist has an image or one of their
    albums a cover; fetchable as they are without credentials, and never carrying the caller's."""
    artist_id = f"ar-{library.bjork.pk}"
    assert "artistImageUrl" not in api.call("getArtist", fmt, id=artist_id).one("artist")
    assert api.call("getArtistInfo2", fmt, id=artist_id).values("artistInfo2", "largeImageUrl") == []

    image = io.BytesIO()
    Image.new("RGB", (900, 900), "teal").save(image, "PNG")
    cover = store_many_bytes([(image.getvalue(), "covers/debut.png")])[0]
    assert cover.is_file()
    Album.objects.filter(pk=library.debut.pk).update(cover_path="covers/debut.png")
    url = api.call("getArtist", fmt, id=artist_id).one("artist")["artistImageUrl"]
    info = api.call("getArtistInfo2", fmt, id=artist_id)
    sizes = {label: info.values("artistInfo2", f"{label}ImageUrl") for label in ("small", "medium", "large")}
    assert sizes["medium"] == [url]
    for label, side in (("small", "300"), ("medium", "600"), ("large", "1200")):
        parts = urlsplit(sizes[label][0])
        query = dict(parse_qsl(parts.query))
        assert parts.scheme == "http"
        assert parts.path.startswith("/share/img/")
        assert query == {"size": side}  # no u, p, t, s or apiKey
    response = client.get(urlsplit(url).path, {"size": "300"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/")
    assert response["Cache-Control"].startswith("public")
    forged = urlsplit(url).path.replace(f"/img/{library.bjork.pk}.", f"/img/{library.bjork.pk + 1}.")
    assert client.get(forged).status_code == 404
    assert client.get(urlsplit(url).path, {"size": "99999999"}).status_code == 404
    legacy = api.call("getArtistInfo", fmt, id=artist_id)
    assert len(legacy.values("artistInfo", "smallImageUrl")) == 1
