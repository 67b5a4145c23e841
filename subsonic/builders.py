"""Model objects → Subsonic nodes. One builder per spec type; the output profile decides what is included.

Per-user data (`starred_at`, `rating`, `play_count`) comes from selector annotations; objects without them (public
shares) simply show none. Optional values that are unknown are omitted, never sent empty; the legacy profile emits
only what the official 1.16.1 schema declares, in its element order.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from accounts.models import User
from library.models import (
    Album,
    Artist,
    Bookmark,
    Genre,
    InternetRadioStation,
    NowPlaying,
    PlaybackState,
    Playlist,
    PlayQueue,
    Share,
    Track,
)
from library.selectors import AlbumRow, TrackRow
from library.text import display_sort_name
from library.transcoding import PlaybackLimits, transcoded_codec
from sources.base import ArtistMetadata, ResultKind, SearchResult
from subsonic import ids
from subsonic.responses import Node, Profile, Scalar

if TYPE_CHECKING:
    from downloads.services import CatalogueHits

EPOCH_FALLBACK = datetime(1970, 1, 1)  # only for required dates of rows that predate timestamps


def _rating(obj: object) -> int | None:
    """userRating is 1..5 in the schema: 0 (none) is omitted."""
    value = getattr(obj, "rating", 0) or 0
    return value if 1 <= value <= 5 else None


def _plays(obj: object) -> int:
    return int(getattr(obj, "play_count", 0) or 0)


def _starred(obj: object) -> datetime | None:
    return getattr(obj, "starred_at", None)


def _seconds(milliseconds: int) -> int:
    return int(milliseconds // 1000)


def _genre_names(obj: Track | Album | TrackRow | AlbumRow) -> list[str]:
    """Names attached by `library.selectors.with_genre_names` (one query per page, not per row)."""
    names: list[str] | None = getattr(obj, "genre_names", None)
    if names is None and isinstance(obj, Track | Album):
        names = [genre.name for genre in obj.genres.all()]
    return names or []


# --------------------------------------------------------------------------------------------------------------
# Songs and directories (Child)
# --------------------------------------------------------------------------------------------------------------
def song(track: Track | TrackRow, profile: Profile, element: str = "song", *, limits: PlaybackLimits) -> Node:
    track_id = ids.track_id(track.pk)
    album_id = ids.album_id(track.album_id)
    if profile is Profile.MINIMAL:
        return Node(element, {"id": track_id, "parent": album_id, "isDir": False, "title": track.title})
    album = track.album
    genres = _genre_names(track)
    # coverArt is the album's id, so clients fetch each cover once, not once per song; always set, as players
    # (castme and others) fetch it unconditionally and getCoverArt answers a placeholder when there is no art.
    artist_name = track.artist_display or track.artist.name
    # One mapping in output order (None = omitted): this runs once per song of every list, so no per-attribute calls.
    attrs: dict[str, Scalar | None] = {
        "id": track_id,
        "parent": album_id,
        "isDir": False,
        "title": track.title,
        "album": album.name,
        "artist": artist_name,
        "track": track.track_number,
        "year": track.year or album.year,
        "genre": genres[0] if genres else None,
        "coverArt": album_id,
        "size": track.size_bytes,
        "contentType": track.content_type,
        "suffix": track.suffix,
        "duration": track.duration_ms // 1000,
        "bitRate": track.bitrate or None,
        "path": track.path,
        "isVideo": False,
        "userRating": _rating(track),
        "playCount": _plays(track),
        "discNumber": track.disc_number,
        "created": track.created_at,
        "starred": getattr(track, "starred_at", None),
        "albumId": album_id,
        "artistId": ids.artist_id(track.artist_id),
        "type": "music",
    }
    transcoded = transcoded_codec(track=track, limits=limits)
    if transcoded is not None:  # what a plain `stream` of it sends this caller on this player
        attrs["transcodedContentType"] = transcoded.content_type
        attrs["transcodedSuffix"] = transcoded.suffix
    if profile is not Profile.FULL:
        return Node(element, attrs)
    attrs.update(
        {
            "bpm": track.bpm,
            "comment": track.comment or None,
            "sortName": display_sort_name(track.title),
            "mediaType": "song",
            "musicBrainzId": track.musicbrainz_recording_id or None,
            "channelCount": track.channels or None,
            "samplingRate": track.sample_rate or None,
            "bitDepth": track.bit_depth or None,
            "displayArtist": artist_name,
            "displayAlbumArtist": album.album_artist.name,
            "explicitStatus": None if track.explicit is None else "explicit" if track.explicit else "clean",
        }
    )
    node = Node(element, attrs)
    node.add_values("isrc", [track.isrc] if track.isrc else [])
    node.add_list("genres", [Node("genres", {"name": name}) for name in genres])
    node.add_list("artists", [Node("artists", {"id": attrs["artistId"], "name": track.artist.name})])
    node.add_list(
        "albumArtists",
        [Node("albumArtists", {"id": ids.artist_id(album.album_artist_id), "name": album.album_artist.name})],
    )
    gains = {
        "trackGain": track.replaygain_track_gain,
        "trackPeak": track.replaygain_track_peak,
        "albumGain": track.replaygain_album_gain,
        "albumPeak": track.replaygain_album_peak,
        "baseGain": track.replaygain_base_gain,
    }
    # OpenSubsonic: the element is always there, holding only the values that are known.
    node.add(Node("replayGain", gains))
    return node


def album_child(album: Album | AlbumRow, profile: Profile, element: str = "album") -> Node:
    """An album as a directory entry (getAlbumList, getMusicDirectory of an artist, search2, getStarred)."""
    album_id = ids.album_id(album.pk)
    artist_id = ids.artist_id(album.album_artist_id)
    if profile is Profile.MINIMAL:
        return Node(element, {"id": album_id, "parent": artist_id, "isDir": True, "title": album.name})
    genres = _genre_names(album)
    attrs: dict[str, Scalar | None] = {
        "id": album_id,
        "parent": artist_id,
        "isDir": True,
        "title": album.name,
        "album": album.name,
        "artist": album.album_artist.name,
        "year": album.year,
        "genre": genres[0] if genres else None,
        "coverArt": album_id,
        "duration": album.duration_ms // 1000,
        "userRating": _rating(album),
        "playCount": _plays(album),
        "created": album.created_at,
        "starred": getattr(album, "starred_at", None),
        "albumId": album_id,
        "artistId": artist_id,
    }
    if profile is not Profile.FULL:
        return Node(element, attrs)
    attrs.update(
        {
            "name": album.name,  # lenient clients read `name` on getAlbumList too
            "songCount": album.track_count,
            "mediaType": "album",
            "sortName": display_sort_name(album.name),
            "musicBrainzId": album.musicbrainz_release_id or None,
        }
    )
    node = Node(element, attrs)
    node.add_list("genres", [Node("genres", {"name": name}) for name in genres])
    return node


def artist_directory(artist: Artist, albums: list[AlbumRow], profile: Profile) -> Node:
    node = Node("directory", {"id": ids.artist_id(artist.pk), "name": artist.name})
    node.set("starred", _starred(artist))
    node.set("userRating", _rating(artist))
    node.set("playCount", _plays(artist))
    node.add_list("child", [album_child(album, profile, "child") for album in albums])
    return node


def album_directory(album: Album, tracks: list[TrackRow], profile: Profile, *, limits: PlaybackLimits) -> Node:
    node = Node("directory", {"id": ids.album_id(album.pk), "parent": ids.artist_id(album.album_artist_id)})
    node.set("name", album.name)
    node.set("starred", _starred(album))
    node.set("userRating", _rating(album))
    node.set("playCount", _plays(album))
    node.add_list("child", [song(track, profile, "child", limits=limits) for track in tracks])
    return node


# --------------------------------------------------------------------------------------------------------------
# ID3 types
# --------------------------------------------------------------------------------------------------------------
def artist_id3(artist: Artist, profile: Profile, element: str = "artist") -> Node:
    node = Node(element, {"id": ids.artist_id(artist.pk), "name": artist.name})
    node.set("coverArt", ids.artist_id(artist.pk))
    node.set("albumCount", artist.album_count)
    node.set("starred", _starred(artist))
    if profile is Profile.FULL:
        node.set("userRating", _rating(artist))
        node.set("musicBrainzId", artist.musicbrainz_id or None)
        node.set("sortName", display_sort_name(artist.name))
        node.add_values("roles", ["albumartist"] if artist.album_count else ["artist"])
    return node


def artist_entry(artist: Artist) -> Node:
    """The folder-style `Artist` of getIndexes and getStarred."""
    node = Node("artist", {"id": ids.artist_id(artist.pk), "name": artist.name})
    node.set("starred", _starred(artist))
    node.set("userRating", _rating(artist))
    return node


def album_id3(
    album: Album | AlbumRow, profile: Profile, element: str = "album", *, songs: list[Node] | None = None
) -> Node:
    """`songs` (getAlbum) come first among the children: clients that take the first child element for the first
    song break on the OpenSubsonic `genres`/`artists`/`releaseDate` children otherwise."""
    album_id = ids.album_id(album.pk)
    artist_id = ids.artist_id(album.album_artist_id)
    artist_name = album.album_artist.name
    genres = _genre_names(album)
    attrs: dict[str, Scalar | None] = {
        "id": album_id,
        "name": album.name,
        "artist": artist_name,
        "artistId": artist_id,
        "coverArt": album_id,
        "songCount": album.track_count,
        "duration": album.duration_ms // 1000,
        "playCount": _plays(album),
        "created": album.created_at or EPOCH_FALLBACK,
        "starred": getattr(album, "starred_at", None),
        "year": album.year,
        "genre": genres[0] if genres else None,
    }
    full = profile is Profile.FULL
    if full:
        attrs.update(
            {
                "userRating": _rating(album),
                "musicBrainzId": album.musicbrainz_release_id or None,
                "displayArtist": artist_name,
                "sortName": display_sort_name(album.name),
                "isCompilation": album.is_compilation,
            }
        )
    node = Node(element, attrs)
    if songs is not None:
        node.add_list("song", songs)
    if not full:
        return node
    node.add_list("genres", [Node("genres", {"name": name}) for name in genres])
    node.add_list("artists", [Node("artists", {"id": artist_id, "name": artist_name})])
    release = _item_date(album.release_date, album.year)
    if release is not None:
        node.add(Node("releaseDate", release))
    if album.original_year:
        node.add(Node("originalReleaseDate", {"year": album.original_year}))
    return node


def _item_date(text: str, year: int | None) -> dict[str, int] | None:
    if not text:  # the usual case: no full date tag, only a year
        return {"year": year} if year else None
    parts = [int(part) for part in text.split("-") if part.isdigit()]
    if not parts and year:
        parts = [year]
    if not parts:
        return None
    return dict(zip(("year", "month", "day"), parts[:3], strict=False))


def album_with_songs(album: Album, tracks: list[TrackRow], profile: Profile, *, limits: PlaybackLimits) -> Node:
    return album_id3(album, profile, songs=[song(track, profile, limits=limits) for track in tracks])


class ArtistsAlbumsTracks(Protocol):
    """What starred lists and searches return (`selectors.Starred`, `selectors.SearchResult`)."""

    @property
    def artists(self) -> list[Artist]: ...
    @property
    def albums(self) -> list[AlbumRow]: ...
    @property
    def tracks(self) -> list[TrackRow]: ...


def artists_albums_songs(
    element: str,
    items: ArtistsAlbumsTracks,
    profile: Profile,
    *,
    id3: bool,
    limits: PlaybackLimits,
    external: CatalogueHits | None = None,
) -> Node:
    """getStarred/search2 (folder-based entries) and getStarred2/search3 (`id3`): artists, albums, then songs;
    for a search, each kind's library items first, then the external catalogue's."""
    node = Node(element)
    artists = external.artists if external else []
    albums = external.albums if external else []
    songs = external.songs if external else []
    if id3:
        node.add_list(
            "artist",
            [artist_id3(artist, profile) for artist in items.artists] + [external_artist(hit, id3) for hit in artists],
        )
        node.add_list(
            "album",
            [album_id3(album, profile) for album in items.albums] + [external_album(hit, profile) for hit in albums],
        )
    else:
        node.add_list(
            "artist",
            [artist_entry(artist) for artist in items.artists] + [external_artist(hit, id3) for hit in artists],
        )
        node.add_list(
            "album",
            [album_child(album, profile) for album in items.albums]
            + [external_album(hit, profile, child=True) for hit in albums],
        )
    node.add_list(
        "song",
        [song(track, profile, limits=limits) for track in items.tracks]
        + [external_song(hit, profile) for hit in songs],
    )
    return node


# --------------------------------------------------------------------------------------------------------------
# Items of an external catalogue (search hits and `ext-` ids): what the source tells, nothing per user
# --------------------------------------------------------------------------------------------------------------
def _external(hit: SearchResult, kind: ResultKind, item_id: str) -> str | None:
    return ids.external_id(hit.source, kind, item_id) if item_id else None


def external_song(hit: SearchResult, profile: Profile, element: str = "song") -> Node:
    song_id = _external(hit, ResultKind.SONG, hit.external_id)
    album_id = _external(hit, ResultKind.ALBUM, hit.album_id)
    if profile is Profile.MINIMAL:
        return Node(element, {"id": song_id, "parent": album_id, "isDir": False, "title": hit.title})
    artist_name = ", ".join(hit.artists) or None
    track_number = hit.extra.get("track_number")
    attrs: dict[str, Scalar | None] = {
        "id": song_id,
        "parent": album_id,
        "isDir": False,
        "title": hit.title,
        "album": hit.album or None,
        "artist": artist_name,
        "track": track_number if isinstance(track_number, int) else None,
        "year": hit.year,
        # The album's cover when there is one, so a player fetches it once for all its songs.
        "coverArt": (album_id or song_id) if hit.thumbnail_url or album_id else None,
        "duration": hit.duration_ms // 1000 if hit.duration_ms else None,
        "isVideo": False,
        "albumId": album_id,
        "type": "music",
    }
    if profile is Profile.FULL:
        attrs.update(
            {
                "mediaType": "song",
                "displayArtist": artist_name,
                "explicitStatus": None if hit.explicit is None else "explicit" if hit.explicit else "clean",
            }
        )
    return Node(element, attrs)


def external_album(hit: SearchResult, profile: Profile, *, child: bool = False) -> Node:
    """An AlbumID3 (search3, getAlbum), or with `child` a directory entry (search2)."""
    album_id = _external(hit, ResultKind.ALBUM, hit.external_id)
    artist_name = ", ".join(hit.artists) or None
    song_count = hit.extra.get("song_count")
    if child:
        return Node(
            "album",
            {
                "id": album_id,
                "isDir": True,
                "title": hit.title,
                "album": hit.title,
                "artist": artist_name,
                "year": hit.year,
                "coverArt": album_id,
            },
        )
    attrs: dict[str, Scalar | None] = {
        "id": album_id,
        "name": hit.title,
        "artist": artist_name,
        "coverArt": album_id,
        # A search hit does not say; getAlbum does.
        "songCount": song_count if isinstance(song_count, int) else 0,
        "duration": (hit.duration_ms or 0) // 1000,
        "created": EPOCH_FALLBACK,
        "year": hit.year,
    }
    if profile is Profile.FULL:
        attrs["displayArtist"] = artist_name
    return Node("album", attrs)


def external_artist(hit: SearchResult, id3: bool) -> Node:
    artist_id = _external(hit, ResultKind.ARTIST, hit.external_id)
    if not id3:
        return Node("artist", {"id": artist_id, "name": hit.title})
    return Node("artist", {"id": artist_id, "name": hit.title, "albumCount": 0})


def external_album_with_songs(album: SearchResult, songs: list[SearchResult], profile: Profile) -> Node:
    node = external_album(album, profile)
    node.add_list("song", [external_song(hit, profile) for hit in songs])
    return node


def external_album_directory(album: SearchResult, songs: list[SearchResult], profile: Profile) -> Node:
    node = Node("directory", {"id": _external(album, ResultKind.ALBUM, album.external_id), "name": album.title})
    node.add_list("child", [external_song(hit, profile, "child") for hit in songs])
    return node


def external_artist_directory(artist: ArtistMetadata, profile: Profile) -> Node:
    node = Node("directory", {"id": ids.external_id(artist.source, ResultKind.ARTIST, artist.external_id)})
    node.set("name", artist.name)
    children = []
    for hit in artist.albums:
        child = external_album(hit, profile, child=True)
        child.name = "child"
        children.append(child)
    node.add_list("child", children)
    return node


def external_artist_with_albums(artist: ArtistMetadata, profile: Profile) -> Node:
    node = Node(
        "artist", {"id": ids.external_id(artist.source, ResultKind.ARTIST, artist.external_id), "name": artist.name}
    )
    node.set("albumCount", len(artist.albums))
    node.add_list("album", [external_album(hit, profile) for hit in artist.albums])
    return node


def artist_with_albums(artist: Artist, albums: list[AlbumRow], profile: Profile, *, image_url: str | None) -> Node:
    """getArtist; `image_url` (the artist's picture, when the library has one) is `artistImageUrl`."""
    node = artist_id3(artist, profile)
    node.set("artistImageUrl", image_url)
    node.add_list("album", [album_id3(album, profile) for album in albums])
    return node


def genre(item: Genre) -> Node:
    return Node(
        "genre",
        {"songCount": getattr(item, "track_count", 0), "albumCount": getattr(item, "album_count", 0)},
        text=item.name,
    )


# --------------------------------------------------------------------------------------------------------------
# Playlists, queue, bookmarks, now playing, shares, radio, users
# --------------------------------------------------------------------------------------------------------------
def playlist(item: Playlist, profile: Profile, *, viewer: User) -> Node:
    node = Node("playlist", {"id": ids.playlist_id(item.pk), "name": item.name})
    node.set("comment", item.comment or None)
    node.set("owner", item.owner.username)
    node.set("public", item.is_public)
    node.set("songCount", int(getattr(item, "entry_count", 0)))
    node.set("duration", _seconds(int(getattr(item, "duration_ms", 0) or 0)))
    node.set("created", item.created_at)
    node.set("changed", item.updated_at)
    node.set("coverArt", ids.playlist_id(item.pk))
    # Only when true: the spec makes it optional, and knuckles (the disopy bot's client) fails on readonly=false.
    if profile is Profile.FULL and item.owner_id != viewer.pk:
        node.set("readonly", True)
    return node


def playlist_with_entries(
    item: Playlist, tracks: list[Track], profile: Profile, *, viewer: User, limits: PlaybackLimits
) -> Node:
    node = playlist(item, profile, viewer=viewer)
    node.add_list("entry", [song(track, profile, "entry", limits=limits) for track in tracks])
    return node


def play_queue(
    queue: PlayQueue | None,
    tracks: list[Track],
    profile: Profile,
    *,
    user: User,
    limits: PlaybackLimits,
    by_index: bool = False,
) -> Node:
    node = Node("playQueueByIndex" if by_index else "playQueue")
    current = queue.current_index if queue is not None else None
    if current is not None and 0 <= current < len(tracks):
        if by_index:
            node.set("currentIndex", current)
        else:
            # OpenSubsonic (and every client) read `current` as a song id, whatever the old XSD says.
            node.set("current", ids.track_id(tracks[current].pk))
    node.set("position", queue.position_ms if queue is not None else None)
    node.set("username", user.username)
    node.set("changed", queue.changed_at if queue is not None else EPOCH_FALLBACK)
    node.set("changedBy", queue.changed_by if queue is not None else "")
    node.add_list("entry", [song(track, profile, "entry", limits=limits) for track in tracks])
    return node


def bookmark(item: Bookmark, profile: Profile, *, limits: PlaybackLimits) -> Node:
    node = Node("bookmark", {"position": item.position_ms, "username": item.user.username})
    node.set("comment", item.comment or None)
    node.set("created", item.created_at)
    node.set("changed", item.updated_at)
    node.add(song(item.track, profile, "entry", limits=limits))
    return node


def now_playing_entry(item: NowPlaying, profile: Profile, *, now: datetime, limits: PlaybackLimits) -> Node:
    node = song(item.track, profile, "entry", limits=limits)
    node.set("username", item.user.username)
    node.set("minutesAgo", max(0, int((now - item.started_at).total_seconds() // 60)))
    node.set("playerId", item.pk)
    node.set("playerName", item.player or None)
    if profile is Profile.FULL and item.reported_at is not None:
        node.set("state", item.state)
        node.set("positionMs", now_playing_position_ms(item, now=now))
        node.set("playbackRate", item.playback_rate)
    return node


def now_playing_position_ms(item: NowPlaying, *, now: datetime) -> int:
    """Where the player is now: the reported position, moved on by the time since while playing (at the
    player's rate), never past the end of the song."""
    position = item.position_ms
    if item.state == PlaybackState.PLAYING and item.reported_at is not None:
        elapsed_ms = max(0.0, (now - item.reported_at).total_seconds() * 1000)
        position += int(elapsed_ms * item.playback_rate)
    return min(position, item.track.duration_ms) if item.track.duration_ms else position


def share(item: Share, tracks: list[Track], profile: Profile, *, url: str, limits: PlaybackLimits) -> Node:
    node = Node("share", {"id": ids.encode(ids.Kind.SHARE, item.pk), "url": url})
    node.set("description", item.description or None)
    node.set("username", item.owner.username)
    node.set("created", item.created_at)
    node.set("expires", item.expires_at)
    node.set("lastVisited", item.last_visited_at)
    node.set("visitCount", item.visit_count)
    node.add_list("entry", [song(track, profile, "entry", limits=limits) for track in tracks])
    return node


def radio_station(item: InternetRadioStation) -> Node:
    node = Node(
        "internetRadioStation",
        {"id": ids.encode(ids.Kind.RADIO, item.pk), "name": item.name, "streamUrl": item.stream_url},
    )
    node.set("homePageUrl", item.homepage_url or None)
    return node


def user(item: User, folder_ids: list[int]) -> Node:
    admin = item.is_admin
    node = Node(
        "user",
        {
            "username": item.username,
            "email": item.email or None,
            "scrobblingEnabled": True,
            "maxBitRate": item.max_bitrate or None,
            "adminRole": admin,
            "settingsRole": True,
            "downloadRole": item.can_download,
            "uploadRole": False,
            "playlistRole": item.can_edit_playlists,
            "coverArtRole": admin,
            "commentRole": item.can_comment,
            "podcastRole": False,
            "streamRole": item.can_stream,
            "jukeboxRole": False,
            "shareRole": item.can_share,
            "videoConversionRole": False,
        },
    )
    node.add_values("folder", folder_ids)
    return node
