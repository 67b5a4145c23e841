"""The route table: every Subsonic method this server answers, on one screen.

Each name is served at `/rest/<name>` and `/rest/<name>.view`, by GET or POST. `auth=False` only for the
OpenSubsonic extension list, which clients read before they log in.
"""

from __future__ import annotations

from dataclasses import dataclass

from subsonic.call import View
from subsonic.views import (
    album_lists,
    bookmarks,
    browsing,
    library_scanning,
    media_annotation,
    media_retrieval,
    playlists,
    radio,
    searching,
    sharing,
    system,
    transcoding,
    unsupported,
    users,
)


@dataclass(frozen=True)
class Route:
    view: View
    auth: bool = True


ROUTES: dict[str, Route] = {
    # System
    "ping": Route(system.ping),
    "getLicense": Route(system.get_license),
    "getOpenSubsonicExtensions": Route(system.get_open_subsonic_extensions, auth=False),
    "tokenInfo": Route(system.token_info),
    # Browsing
    "getMusicFolders": Route(browsing.get_music_folders),
    "getIndexes": Route(browsing.get_indexes),
    "getMusicDirectory": Route(browsing.get_music_directory),
    "getGenres": Route(browsing.get_genres),
    "getArtists": Route(browsing.get_artists),
    "getArtist": Route(browsing.get_artist),
    "getAlbum": Route(browsing.get_album),
    "getSong": Route(browsing.get_song),
    "getArtistInfo": Route(browsing.get_artist_info),
    "getArtistInfo2": Route(browsing.get_artist_info2),
    "getAlbumInfo": Route(browsing.get_album_info),
    "getAlbumInfo2": Route(browsing.get_album_info2),
    "getSimilarSongs": Route(browsing.get_similar_songs),
    "getSimilarSongs2": Route(browsing.get_similar_songs2),
    "getTopSongs": Route(browsing.get_top_songs),
    # Album and song lists
    "getAlbumList": Route(album_lists.get_album_list),
    "getAlbumList2": Route(album_lists.get_album_list2),
    "getRandomSongs": Route(album_lists.get_random_songs),
    "getSongsByGenre": Route(album_lists.get_songs_by_genre),
    "getNowPlaying": Route(album_lists.get_now_playing),
    "getStarred": Route(album_lists.get_starred),
    "getStarred2": Route(album_lists.get_starred2),
    # Searching
    "search2": Route(searching.search2),
    "search3": Route(searching.search3),
    # Playlists
    "getPlaylists": Route(playlists.get_playlists),
    "getPlaylist": Route(playlists.get_playlist),
    "createPlaylist": Route(playlists.create_playlist),
    "updatePlaylist": Route(playlists.update_playlist),
    "deletePlaylist": Route(playlists.delete_playlist),
    # Media retrieval
    "stream": Route(media_retrieval.stream),
    "download": Route(media_retrieval.download),
    "getCoverArt": Route(media_retrieval.get_cover_art),
    "getLyrics": Route(media_retrieval.get_lyrics),
    "getLyricsBySongId": Route(media_retrieval.get_lyrics_by_song_id),
    "getAvatar": Route(media_retrieval.get_avatar),
    # Transcoding (OpenSubsonic extension)
    "getTranscodeDecision": Route(transcoding.get_transcode_decision),
    "getTranscodeStream": Route(transcoding.get_transcode_stream),
    # Media annotation
    "star": Route(media_annotation.star),
    "unstar": Route(media_annotation.unstar),
    "setRating": Route(media_annotation.set_rating),
    "scrobble": Route(media_annotation.scrobble),
    "reportPlayback": Route(media_annotation.report_playback),
    # Bookmarks and play queue
    "getBookmarks": Route(bookmarks.get_bookmarks),
    "createBookmark": Route(bookmarks.create_bookmark),
    "deleteBookmark": Route(bookmarks.delete_bookmark),
    "getPlayQueue": Route(bookmarks.get_play_queue),
    "savePlayQueue": Route(bookmarks.save_play_queue),
    "getPlayQueueByIndex": Route(bookmarks.get_play_queue_by_index),
    "savePlayQueueByIndex": Route(bookmarks.save_play_queue_by_index),
    # Users
    "getUser": Route(users.get_user),
    "getUsers": Route(users.get_users),
    "createUser": Route(users.create_user),
    "updateUser": Route(users.update_user),
    "deleteUser": Route(users.delete_user),
    "changePassword": Route(users.change_password),
    # Library scanning
    "getScanStatus": Route(library_scanning.get_scan_status),
    "startScan": Route(library_scanning.start_scan),
    # Sharing
    "getShares": Route(sharing.get_shares),
    "createShare": Route(sharing.create_share),
    "updateShare": Route(sharing.update_share),
    "deleteShare": Route(sharing.delete_share),
    # Internet radio
    "getInternetRadioStations": Route(radio.get_internet_radio_stations),
    "createInternetRadioStation": Route(radio.create_internet_radio_station),
    "updateInternetRadioStation": Route(radio.update_internet_radio_station),
    "deleteInternetRadioStation": Route(radio.delete_internet_radio_station),
    # Not offered: a clear "not supported" error rather than "unknown method"
    **{name: Route(unsupported.refuse(name)) for name in unsupported.METHODS},
}
