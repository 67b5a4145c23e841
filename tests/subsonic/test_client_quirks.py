"""What real players trip over, each pinned in XML and JSON (every answer is validated against its profile's
schema by the test client)."""

from __future__ import annotations

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
