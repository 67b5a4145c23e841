"""Browsing: music folders, the artist index, the simulated folder tree, genres, ID3 lookups, info and similar."""

from __future__ import annotations

import string
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings

from downloads.services import catalogue_album_get, catalogue_artist_get, catalogue_song_get
from library import selectors
from library.models import Album, Artist, Track
from sources.base import ExternalItem, ResultKind
from subsonic import builders, external, ids, public
from subsonic.call import Call, music_folders
from subsonic.errors import ErrorCode, SubsonicError, missing_parameter
from subsonic.ids import Kind
from subsonic.responses import Node, Profile

INFO_DEFAULT_COUNT = 20
SIMILAR_DEFAULT_COUNT = 50
MAX_COUNT = 500


def get_music_folders(call: Call) -> Node:
    node = Node("musicFolders")
    node.add_list(
        "musicFolder",
        [Node("musicFolder", {"id": folder_id, "name": alias.title()}) for folder_id, alias in music_folders().items()],
    )
    return node


def _ignored_articles() -> str:
    return " ".join(settings.LIBRARY_IGNORED_ARTICLES)


def index_letter(sort_name: str) -> str:
    """The index bucket: the first letter of the article-less, folded sort name; anything else is `#`."""
    first = sort_name[:1].upper()
    return first if first in string.ascii_uppercase else "#"


# The artist index is the same for every user but for the few artists a user starred or rated, and building its
# nodes was most of getIndexes/getArtists on a large library: each process keeps, per music folder and element
# shape, the index letters with their user-independent artist nodes, for as long as the library's
# change token (migration 0007) stays the same. Shared nodes are never mutated: an artist the user annotated gets
# a node of its own.
_IndexKey = tuple[str | None, str, Profile]
_Letters = list[tuple[str, list[tuple[selectors.ArtistIndexRow, Node]]]]
_index_cache: dict[_IndexKey, tuple[str, _Letters]] = {}


def _letters(source: str | None, build: Callable[[selectors.ArtistIndexRow], Node]) -> _Letters:
    buckets: dict[str, list[tuple[selectors.ArtistIndexRow, Node]]] = {}
    for artist in selectors.artist_index(source=source):
        buckets.setdefault(index_letter(artist.sort_name), []).append((artist, build(artist)))
    return sorted(buckets.items())


def _artist_index(call: Call, token: str, shape: str, build: Callable[[Any], Node]) -> list[Node]:
    source = call.folder_source()
    key = (source, shape, call.profile)
    cached = _index_cache.get(key)
    if cached is None or cached[0] != token:
        cached = (token, _letters(source, build))
        _index_cache[key] = cached
    mine = selectors.artist_user_data(user=call.user)
    nodes = []
    for letter, artists in cached[1]:
        node = Node("index", {"name": letter})
        node.add_list(
            "artist",
            [
                build(_with_user_data(artist, *mine[artist.pk])) if artist.pk in mine else shared
                for artist, shared in artists
            ],
        )
        nodes.append(node)
    return nodes


def _with_user_data(artist: selectors.ArtistIndexRow, starred_at: datetime | None, rating: int) -> Any:
    return selectors.ArtistIndexRow({**vars(artist), "starred_at": starred_at, "rating": rating})


def get_indexes(call: Call) -> Node:
    change = selectors.library_change()
    since = call.params.integer("ifModifiedSince", 0, minimum=0) or 0
    node = Node("indexes", {"lastModified": change.changed_ms, "ignoredArticles": _ignored_articles()})
    if since and since >= change.changed_ms:
        return node  # unchanged: the client keeps its copy
    node.add_list("index", _artist_index(call, change.token, "entry", builders.artist_entry))
    return node


def get_artists(call: Call) -> Node:
    token = selectors.library_change().token
    node = Node("artists", {"ignoredArticles": _ignored_articles()})
    node.add_list("index", _artist_index(call, token, "id3", lambda a: builders.artist_id3(a, call.profile)))
    return node


def get_music_directory(call: Call) -> Node:
    try:
        kind, pk = ids.decode(call.params.required("id"), allowed=(Kind.ARTIST, Kind.ALBUM), bare=Kind.ALBUM)
    except ids.ExternalNotInLibraryError as missing:
        return _external_directory(call, missing.ref)
    if kind is Kind.ARTIST:
        artist, albums = selectors.artist_with_albums(user=call.user, artist_id=pk)
        return builders.artist_directory(artist, albums, call.profile)
    album, tracks = selectors.album_with_tracks(user=call.user, album_id=pk)
    return builders.album_directory(album, tracks, call.profile, limits=call.playback_limits())


def _external_directory(call: Call, ref: ExternalItem) -> Node:
    """search2 hands folder-browsing players `ext-` albums and artists: they open like library folders."""
    if ref.kind is ResultKind.ARTIST:
        return builders.external_artist_directory(catalogue_artist_get(user=call.user, item=ref), call.profile)
    remote = catalogue_album_get(user=call.user, item=external.of_kind(ref, ResultKind.ALBUM))
    return builders.external_album_directory(remote.album, remote.songs, call.profile)


def get_genres(call: Call) -> Node:
    node = Node("genres")
    node.add_list("genre", [builders.genre(item) for item in selectors.genres_list()])
    return node


def get_artist(call: Call) -> Node:
    try:
        artist_id = _id(call, Kind.ARTIST)
    except ids.ExternalNotInLibraryError as missing:
        remote = catalogue_artist_get(user=call.user, item=external.of_kind(missing.ref, ResultKind.ARTIST))
        return builders.external_artist_with_albums(remote, call.profile)
    artist, albums = selectors.artist_with_albums(user=call.user, artist_id=artist_id)
    image_url = _artist_image_urls(call, artist).get("medium")
    node = builders.artist_with_albums(artist, albums, call.profile, image_url=image_url)
    node.set("albumCount", len(albums))
    return node


def get_album(call: Call) -> Node:
    try:
        album_id = _id(call, Kind.ALBUM)
    except ids.ExternalNotInLibraryError as missing:
        remote = catalogue_album_get(user=call.user, item=external.of_kind(missing.ref, ResultKind.ALBUM))
        return builders.external_album_with_songs(remote.album, remote.songs, call.profile)
    album, tracks = selectors.album_with_tracks(user=call.user, album_id=album_id)
    return builders.album_with_songs(album, tracks, call.profile, limits=call.playback_limits())


def get_song(call: Call) -> Node:
    try:
        track_id = _id(call, Kind.TRACK)
    except ids.ExternalNotInLibraryError as missing:
        song = catalogue_song_get(user=call.user, item=external.of_kind(missing.ref, ResultKind.SONG))
        return builders.external_song(song, call.profile)
    return builders.song(
        selectors.subsonic_track_get(user=call.user, track_id=track_id), call.profile, limits=call.playback_limits()
    )


def _id(call: Call, kind: Kind) -> int:
    return ids.decode_as(call.params.required("id"), kind)


# --------------------------------------------------------------------------------------------------------------
# Info, similar and top songs: local data only (no external metadata service is configured)
# --------------------------------------------------------------------------------------------------------------
def _artist_info(call: Call, element: str, id3: bool) -> Node:
    try:
        kind, pk = ids.decode(
            call.params.required("id"), allowed=(Kind.ARTIST, Kind.ALBUM, Kind.TRACK), bare=Kind.ARTIST
        )
    except ids.ExternalNotInLibraryError as missing:
        return _external_artist_info(call, element, missing.ref)
    artist = _artist_of(kind, pk)
    count = call.params.int_or("count", INFO_DEFAULT_COUNT, minimum=0, maximum=MAX_COUNT)
    node = Node(element)
    node.add_text("musicBrainzId", artist.musicbrainz_id or None)
    for label, url in _artist_image_urls(call, artist).items():
        node.add_text(f"{label}ImageUrl", url)
    similar = selectors.artists_similar(artist=artist, count=count)
    build = (lambda a: builders.artist_id3(a, call.profile, "similarArtist")) if id3 else _similar_artist_entry
    node.add_list("similarArtist", [build(item) for item in similar])
    return node


def _external_artist_info(call: Call, element: str, ref: ExternalItem) -> Node:
    """What the source says of its artist: the biography (it knows no similar artists)."""
    if ref.kind is not ResultKind.ARTIST:
        raise SubsonicError(
            ErrorCode.NOT_FOUND,
            f"{ref.kind.title()} {ref.external_id!r} of {ref.source} is not in the library; ask for its artist's info",
        )
    artist = catalogue_artist_get(user=call.user, item=ref)
    node = Node(element)
    node.add_text("biography", artist.biography or None)
    node.add_list("similarArtist", [])
    return node


# Pixel sizes of the artist pictures getArtistInfo announces, as Navidrome does.
ARTIST_IMAGE_SIZES = {"small": 300, "medium": 600, "large": 1200}


def _artist_image_urls(call: Call, artist: Artist) -> dict[str, str]:
    """Public URLs of the artist's picture (their own image, else the cover of their latest album) by size label;
    none when the library has no picture (getCoverArt would answer its placeholder)."""
    if not selectors.artist_cover_path(artist_id=artist.pk):
        return {}
    return {
        label: public.artist_image_url(call.request, artist_id=artist.pk, size=size)
        for label, size in ARTIST_IMAGE_SIZES.items()
    }


def _similar_artist_entry(artist: Artist) -> Node:
    node = builders.artist_entry(artist)
    node.name = "similarArtist"
    return node


def _artist_of(kind: Kind, pk: int) -> Artist:
    """Info endpoints accept any id the client has at hand: an album or song points at its artist."""
    if kind is Kind.ALBUM:
        return selectors.album_get(album_id=pk).album_artist
    if kind is Kind.TRACK:
        return selectors.track_get(track_id=pk).artist
    return selectors.artist_get(artist_id=pk)


def get_artist_info(call: Call) -> Node:
    return _artist_info(call, "artistInfo", id3=False)


def get_artist_info2(call: Call) -> Node:
    return _artist_info(call, "artistInfo2", id3=True)


def _album_info(call: Call) -> Node:
    kind, pk = ids.decode(call.params.required("id"), allowed=(Kind.ALBUM, Kind.TRACK), bare=Kind.ALBUM)
    album = selectors.track_get(track_id=pk).album if kind is Kind.TRACK else selectors.album_get(album_id=pk)
    node = Node("albumInfo")
    node.add_text("musicBrainzId", album.musicbrainz_release_id or None)
    return node


get_album_info = _album_info
get_album_info2 = _album_info


def _seed(call: Call) -> Track | Album | Artist:
    kind, pk = ids.decode(call.params.required("id"), allowed=(Kind.ARTIST, Kind.ALBUM, Kind.TRACK), bare=Kind.TRACK)
    if kind is Kind.TRACK:
        return selectors.track_get(track_id=pk)
    if kind is Kind.ALBUM:
        return selectors.album_get(album_id=pk)
    return selectors.artist_get(artist_id=pk)


def _similar_songs(call: Call, element: str) -> Node:
    seed = _seed(call)
    count = call.params.int_or("count", SIMILAR_DEFAULT_COUNT, minimum=0, maximum=MAX_COUNT)
    node = Node(element)
    tracks = selectors.tracks_similar(user=call.user, seed=seed, count=count)
    limits = call.playback_limits()
    node.add_list("song", [builders.song(track, call.profile, limits=limits) for track in tracks])
    return node


def get_similar_songs(call: Call) -> Node:
    return _similar_songs(call, "similarSongs")


def get_similar_songs2(call: Call) -> Node:
    return _similar_songs(call, "similarSongs2")


def get_top_songs(call: Call) -> Node:
    """By artist name (Subsonic) or artist id (OpenSubsonic `topSongsByArtistId`, which takes precedence).
    An unknown name is an empty list: clients ask for names they found elsewhere."""
    count = call.params.int_or("count", SIMILAR_DEFAULT_COUNT, minimum=0, maximum=MAX_COUNT)
    raw_id = call.params.text("id")
    artist: Artist | None
    if raw_id:
        try:
            artist_id = ids.decode_as(raw_id, Kind.ARTIST)
        except ids.ExternalNotInLibraryError as missing:
            return _external_top_songs(call, missing.ref, count)
        artist = selectors.artist_get(artist_id=artist_id)
    else:
        name = call.params.text("artist")
        if not name:
            raise missing_parameter("artist")
        artist = selectors.artist_by_name(name=name)
    node = Node("topSongs")
    tracks = selectors.tracks_top(user=call.user, artist=artist, count=count) if artist is not None else []
    limits = call.playback_limits()
    node.add_list("song", [builders.song(track, call.profile, limits=limits) for track in tracks])
    return node


def _external_top_songs(call: Call, ref: ExternalItem, count: int) -> Node:
    """An external artist's top songs as its source ranks them (each an `ext-` song players can play)."""
    songs = catalogue_artist_get(user=call.user, item=external.of_kind(ref, ResultKind.ARTIST)).top_songs[:count]
    node = Node("topSongs")
    node.add_list("song", [builders.external_song(hit, call.profile) for hit in songs])
    return node
