"""A fake YouTube Music origin on 127.0.0.1: InnerTube JSON for ytmusicapi, and media for yt-dlp.

The JSON is built from a small catalog in the exact renderer shapes ytmusicapi 1.12 parses (parsers/search.py,
parsers/watch.py, parsers/albums.py, parsers/playlists.py). Routes:
  GET  /                               the home page carrying ytcfg VISITOR_DATA
  POST /youtubei/v1/search             songs / albums / playlists / artists shelves for a query
  POST /youtubei/v1/next               the watch playlist of a videoId (or of a playlistId)
  POST /youtubei/v1/browse             an album (MPRE…), an artist page (UC…) or lyrics (MPLYt…)
  GET  /playlist?list=<OLAK…>          the album page an audio playlist id redirects to (carries the MPRE id)
  GET  /watch?v=<id>                   the song's media, behaving as its `media` says (ok, status:429, slow…)
  GET  /media/<name>, /status/<code>…  see tests.fakes.media_server
Faults for the next API call are queued with `server.fail_next(kind)`: "429-json", "429-html", "500", "hang",
"layout"; `server.latency_seconds` delays every API answer.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.media_server import MediaStore, serve_media

ATV = "MUSIC_VIDEO_TYPE_ATV"
OMV = "MUSIC_VIDEO_TYPE_OMV"
UGC = "MUSIC_VIDEO_TYPE_UGC"
DOT = {"text": " • "}


@dataclass
class FakeArtist:
    browse_id: str
    name: str
    description: str = ""
    picture: bool = True  # whether the artist page's header has a thumbnail


@dataclass
class FakeSong:
    video_id: str
    title: str
    artists: list[FakeArtist]
    seconds: int
    album_id: str = ""
    track_number: int | None = None
    video_type: str = ATV
    explicit: bool = False
    available: bool = True
    lyrics: str = ""
    # How /watch?v=<id> answers: "ok" (the media file `media_name`), or "status:<code>", "truncated", "slow",
    # "slowcut" (see tests.fakes.media_server).
    media: str = "ok"
    media_name: str = "tone.opus"


@dataclass
class FakeAlbum:
    browse_id: str
    title: str
    artists: list[FakeArtist]
    year: int
    playlist_id: str
    cover_url: str = ""
    song_ids: list[str] = field(default_factory=list)
    explicit: bool = False


@dataclass
class FakePlaylist:
    playlist_id: str
    title: str
    author: str
    song_ids: list[str] = field(default_factory=list)


@dataclass
class Catalog:
    songs: dict[str, FakeSong] = field(default_factory=dict)
    albums: dict[str, FakeAlbum] = field(default_factory=dict)
    playlists: dict[str, FakePlaylist] = field(default_factory=dict)
    artists: dict[str, FakeArtist] = field(default_factory=dict)

    def add_album(self, album: FakeAlbum, songs: list[FakeSong]) -> None:
        self.albums[album.browse_id] = album
        for number, song in enumerate(songs, start=1):
            song.album_id = album.browse_id
            song.track_number = song.track_number or number
            self.songs[song.video_id] = song
            album.song_ids.append(song.video_id)
        for artist in album.artists:
            self.artists[artist.browse_id] = artist


# -- renderer builders ------------------------------------------------------------------------------------------
def _duration(seconds: int) -> str:
    return f"{seconds // 60}:{seconds % 60:02d}"


def _artist_run(artist: FakeArtist, *, page_type: bool = False) -> dict[str, Any]:
    endpoint: dict[str, Any] = {"browseId": artist.browse_id}
    if page_type:
        endpoint["browseEndpointContextSupportedConfigs"] = {
            "browseEndpointContextMusicConfig": {"pageType": "MUSIC_PAGE_TYPE_ARTIST"}
        }
    return {"text": artist.name, "navigationEndpoint": {"browseEndpoint": endpoint}}


def _album_run(album: FakeAlbum) -> dict[str, Any]:
    return {"text": album.title, "navigationEndpoint": {"browseEndpoint": {"browseId": album.browse_id}}}


def _joined(runs: list[dict[str, Any]], separator: dict[str, str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for run in runs:
        if out:
            out.append(dict(separator))
        out.append(run)
    return out


def _thumbnails(url: str) -> dict[str, Any]:
    sizes = [(60, 60), (120, 120), (544, 544)]
    return {
        "musicThumbnailRenderer": {
            "thumbnail": {"thumbnails": [{"url": f"{url}#w{w}", "width": w, "height": h} for w, h in sizes]}
        }
    }


def _flex(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"musicResponsiveListItemFlexColumnRenderer": {"text": {"runs": runs}}}


def _watch_endpoint(video_id: str, video_type: str, playlist_id: str | None = None) -> dict[str, Any]:
    endpoint: dict[str, Any] = {
        "videoId": video_id,
        "watchEndpointMusicSupportedConfigs": {"watchEndpointMusicConfig": {"musicVideoType": video_type}},
    }
    if playlist_id:
        endpoint["playlistId"] = playlist_id
    return {"watchEndpoint": endpoint}


def _play_overlay(video_id: str, video_type: str) -> dict[str, Any]:
    return {
        "musicItemThumbnailOverlayRenderer": {
            "content": {"musicPlayButtonRenderer": {"playNavigationEndpoint": _watch_endpoint(video_id, video_type)}}
        }
    }


_EXPLICIT_BADGE = [{"musicInlineBadgeRenderer": {"accessibilityData": {"accessibilityData": {"label": "Explicit"}}}}]


class _Builder:
    def __init__(self, catalog: Catalog, base_url: str) -> None:
        self.catalog = catalog
        self.base_url = base_url

    def cover(self, album: FakeAlbum | None) -> str:
        return (album.cover_url if album and album.cover_url else "") or f"{self.base_url}/media/cover.jpg"

    def song_item(self, song: FakeSong) -> dict[str, Any]:
        album = self.catalog.albums.get(song.album_id)
        runs = _joined([_artist_run(a) for a in song.artists], {"text": ", "})
        if album:
            runs += [DOT, _album_run(album)]
        runs += [DOT, {"text": _duration(song.seconds)}]
        item: dict[str, Any] = {
            "flexColumns": [
                _flex([{"text": song.title, "navigationEndpoint": _watch_endpoint(song.video_id, song.video_type)}]),
                _flex(runs),
            ],
            "overlay": _play_overlay(song.video_id, song.video_type),
            "thumbnail": _thumbnails(self.cover(album)),
        }
        if song.explicit:
            item["badges"] = _EXPLICIT_BADGE
        if not song.available:
            item["musicItemRendererDisplayPolicy"] = "MUSIC_ITEM_RENDERER_DISPLAY_POLICY_GREY_OUT"
        return {"musicResponsiveListItemRenderer": item}

    def album_item(self, album: FakeAlbum) -> dict[str, Any]:
        runs = [{"text": "Album"}, DOT, *[_artist_run(a) for a in album.artists], DOT, {"text": str(album.year)}]
        item: dict[str, Any] = {
            "flexColumns": [_flex([{"text": album.title}]), _flex(runs)],
            "navigationEndpoint": {"browseEndpoint": {"browseId": album.browse_id}},
            "overlay": {
                "musicItemThumbnailOverlayRenderer": {
                    "content": {
                        "musicPlayButtonRenderer": {
                            "playNavigationEndpoint": {"watchPlaylistEndpoint": {"playlistId": album.playlist_id}}
                        }
                    }
                }
            },
            "thumbnail": _thumbnails(self.cover(album)),
        }
        if album.explicit:
            item["badges"] = _EXPLICIT_BADGE
        return {"musicResponsiveListItemRenderer": item}

    def playlist_item(self, playlist: FakePlaylist) -> dict[str, Any]:
        runs = [{"text": playlist.author}, DOT, {"text": f"{len(playlist.song_ids)} songs"}]
        return {
            "musicResponsiveListItemRenderer": {
                "flexColumns": [_flex([{"text": playlist.title}]), _flex(runs)],
                "navigationEndpoint": {"browseEndpoint": {"browseId": "VL" + playlist.playlist_id}},
                "thumbnail": _thumbnails(self.cover(None)),
            }
        }

    def artist_item(self, artist: FakeArtist) -> dict[str, Any]:
        return {
            "musicResponsiveListItemRenderer": {
                "flexColumns": [_flex([{"text": artist.name}]), _flex([{"text": "Artist"}])],
                "navigationEndpoint": {"browseEndpoint": {"browseId": artist.browse_id}},
                "thumbnail": _thumbnails(self.cover(None)),
            }
        }

    def search(self, query: str, params: str | None) -> dict[str, Any]:
        words = query.casefold().split()

        def hit(*texts: str) -> bool:
            hay = " ".join(texts).casefold()
            return all(w in hay for w in words)

        songs = [
            s
            for s in self.catalog.songs.values()
            if hit(s.title, *(a.name for a in s.artists), self._album_title(s.album_id))
        ]
        albums = [a for a in self.catalog.albums.values() if hit(a.title, *(x.name for x in a.artists))]
        playlists = [p for p in self.catalog.playlists.values() if hit(p.title, p.author)]
        artists = [a for a in self.catalog.artists.values() if hit(a.name)]
        shelves: list[tuple[str, list[dict[str, Any]]]] = [
            ("Songs", [self.song_item(s) for s in songs]),
            ("Albums", [self.album_item(a) for a in albums]),
            ("Community playlists", [self.playlist_item(p) for p in playlists]),
            ("Artists", [self.artist_item(a) for a in artists]),
        ]
        # The filter is encoded in `params`; ytmusicapi skips shelves whose title does not match it.
        contents = [{"musicShelfRenderer": {"title": {"runs": [{"text": t}]}, "contents": c}} for t, c in shelves if c]
        if not contents:
            return {}
        return {
            "contents": {
                "tabbedSearchResultsRenderer": {
                    "tabs": [{"tabRenderer": {"content": {"sectionListRenderer": {"contents": contents}}}}]
                }
            }
        }

    def _album_title(self, album_id: str) -> str:
        album = self.catalog.albums.get(album_id)
        return album.title if album else ""

    def watch_track(self, song: FakeSong, playlist_id: str) -> dict[str, Any]:
        album = self.catalog.albums.get(song.album_id)
        byline = _joined([_artist_run(a) for a in song.artists], {"text": ", "})
        if album:
            byline += [DOT, _album_run(album)]
            byline += [DOT, {"text": str(album.year)}]
        return {
            "playlistPanelVideoRenderer": {
                "videoId": song.video_id,
                "title": {"runs": [{"text": song.title}]},
                "lengthText": {"runs": [{"text": _duration(song.seconds)}]},
                "thumbnail": {"thumbnails": [{"url": self.cover(album), "width": 120, "height": 120}]},
                "navigationEndpoint": _watch_endpoint(song.video_id, song.video_type, playlist_id),
                "menu": {"menuRenderer": {"items": []}},
                "longBylineText": {"runs": byline},
            }
        }

    def next(self, video_id: str | None, playlist_id: str | None) -> dict[str, Any]:
        songs: list[FakeSong] = []
        lyrics_id = None
        if playlist_id and playlist_id in self.catalog.playlists:
            songs = [self.catalog.songs[i] for i in self.catalog.playlists[playlist_id].song_ids]
        elif video_id and video_id in self.catalog.songs:
            songs = [self.catalog.songs[video_id]]
            if songs[0].lyrics:
                lyrics_id = f"MPLYt_{video_id}"
        tabs: list[dict[str, Any]] = [
            {
                "tabRenderer": {
                    "content": {
                        "musicQueueRenderer": {
                            "content": {
                                "playlistPanelRenderer": {
                                    "contents": [
                                        self.watch_track(s, playlist_id or "RDAMVM" + s.video_id) for s in songs
                                    ]
                                }
                            }
                        }
                    }
                }
            }
            if songs
            else {"tabRenderer": {"content": {"musicQueueRenderer": {}}}}
        ]
        if lyrics_id:
            tabs.append(
                {
                    "tabRenderer": {
                        "endpoint": {
                            "browseEndpoint": {
                                "browseId": lyrics_id,
                                "browseEndpointContextSupportedConfigs": {
                                    "browseEndpointContextMusicConfig": {"pageType": "MUSIC_PAGE_TYPE_TRACK_LYRICS"}
                                },
                            }
                        }
                    }
                }
            )
        else:
            tabs.append({"tabRenderer": {"unselectable": True}})
        return {
            "contents": {
                "singleColumnMusicWatchNextResultsRenderer": {
                    "tabbedRenderer": {"watchNextTabbedResultsRenderer": {"tabs": tabs}}
                }
            }
        }

    def album_track(self, song: FakeSong) -> dict[str, Any]:
        album = self.catalog.albums[song.album_id]
        artist_col: dict[str, Any] = {"musicResponsiveListItemFlexColumnRenderer": {"text": {}}}
        if [a.browse_id for a in song.artists] != [a.browse_id for a in album.artists]:
            artist_col = _flex(_joined([_artist_run(a, page_type=True) for a in song.artists], {"text": ", "}))
        item: dict[str, Any] = {
            "flexColumns": [
                _flex([{"text": song.title, "navigationEndpoint": _watch_endpoint(song.video_id, song.video_type)}]),
                artist_col,
                _flex([{"text": "1.2M plays"}]),
            ],
            "fixedColumns": [
                {"musicResponsiveListItemFixedColumnRenderer": {"text": {"runs": [{"text": _duration(song.seconds)}]}}}
            ],
            "index": {"runs": [{"text": str(song.track_number)}]},
            "overlay": _play_overlay(song.video_id, song.video_type),
            "menu": {
                "menuRenderer": {
                    "items": [
                        {
                            "menuNavigationItemRenderer": {
                                "navigationEndpoint": _watch_endpoint(song.video_id, song.video_type)
                            }
                        }
                    ]
                }
            },
        }
        if song.explicit:
            item["badges"] = _EXPLICIT_BADGE
        if not song.available:
            item["musicItemRendererDisplayPolicy"] = "MUSIC_ITEM_RENDERER_DISPLAY_POLICY_GREY_OUT"
        return {"musicResponsiveListItemRenderer": item}

    def album(self, browse_id: str) -> dict[str, Any] | None:
        album = self.catalog.albums.get(browse_id)
        if album is None:
            return None
        songs = [self.catalog.songs[i] for i in album.song_ids]
        total = sum(s.seconds for s in songs)
        header = {
            "musicResponsiveHeaderRenderer": {
                "title": {"runs": [{"text": album.title}]},
                "subtitle": {"runs": [{"text": "Album"}, DOT, {"text": str(album.year)}]},
                "straplineTextOne": {"runs": _joined([_artist_run(a) for a in album.artists], {"text": ", "})},
                "thumbnail": _thumbnails(self.cover(album)),
                "secondSubtitle": {"runs": [{"text": f"{len(songs)} songs"}, DOT, {"text": f"{total // 60} minutes"}]},
                "buttons": [
                    {
                        "musicPlayButtonRenderer": {
                            "playNavigationEndpoint": {"watchPlaylistEndpoint": {"playlistId": album.playlist_id}}
                        }
                    }
                ],
            }
        }
        if album.explicit:
            header["musicResponsiveHeaderRenderer"]["subtitleBadges"] = _EXPLICIT_BADGE
        return {
            "contents": {
                "twoColumnBrowseResultsRenderer": {
                    "tabs": [{"tabRenderer": {"content": {"sectionListRenderer": {"contents": [header]}}}}],
                    "secondaryContents": {
                        "sectionListRenderer": {
                            "contents": [{"musicShelfRenderer": {"contents": [self.album_track(s) for s in songs]}}]
                        }
                    },
                }
            }
        }

    def artist_song_item(self, song: FakeSong) -> dict[str, Any]:
        """A row of an artist page's top songs: title, artists and album columns told apart by page type."""
        album = self.catalog.albums.get(song.album_id)
        columns = [
            _flex([{"text": song.title, "navigationEndpoint": _watch_endpoint(song.video_id, song.video_type)}]),
            _flex(_joined([_artist_run(a, page_type=True) for a in song.artists], {"text": ", "})),
        ]
        if album:
            album_run = _album_run(album)
            album_run["navigationEndpoint"]["browseEndpoint"]["browseEndpointContextSupportedConfigs"] = {
                "browseEndpointContextMusicConfig": {"pageType": "MUSIC_PAGE_TYPE_ALBUM"}
            }
            columns.append(_flex([album_run]))
        item: dict[str, Any] = {
            "flexColumns": columns,
            "fixedColumns": [
                {"musicResponsiveListItemFixedColumnRenderer": {"text": {"runs": [{"text": _duration(song.seconds)}]}}}
            ],
            "overlay": _play_overlay(song.video_id, song.video_type),
            "thumbnail": _thumbnails(self.cover(album)),
            "menu": {
                "menuRenderer": {
                    "items": [
                        {
                            "menuNavigationItemRenderer": {
                                "navigationEndpoint": _watch_endpoint(song.video_id, song.video_type)
                            }
                        }
                    ]
                }
            },
        }
        if not song.available:
            item["musicItemRendererDisplayPolicy"] = "MUSIC_ITEM_RENDERER_DISPLAY_POLICY_GREY_OUT"
        return {"musicResponsiveListItemRenderer": item}

    def artist_album_item(self, album: FakeAlbum) -> dict[str, Any]:
        """An album card of an artist page's "Albums" carousel (a two-row item)."""
        return {
            "musicTwoRowItemRenderer": {
                "title": {"runs": [_album_run(album)]},
                "subtitle": {"runs": [{"text": "Album"}, DOT, {"text": str(album.year)}]},
                "navigationEndpoint": {"browseEndpoint": {"browseId": album.browse_id}},
                "thumbnailRenderer": _thumbnails(self.cover(album)),
                "thumbnailOverlay": {
                    "musicItemThumbnailOverlayRenderer": {
                        "content": {
                            "musicPlayButtonRenderer": {
                                "playNavigationEndpoint": {"watchPlaylistEndpoint": {"playlistId": album.playlist_id}}
                            }
                        }
                    }
                },
            }
        }

    def artist(self, browse_id: str) -> dict[str, Any] | None:
        """An artist page (ytmusicapi's get_artist): header, top songs shelf, albums carousel, description."""
        artist = self.catalog.artists.get(browse_id)
        if artist is None:
            return None
        albums = [a for a in self.catalog.albums.values() if browse_id in [x.browse_id for x in a.artists]]
        songs = [s for s in self.catalog.songs.values() if browse_id in [x.browse_id for x in s.artists]]
        sections: list[dict[str, Any]] = []
        if songs:
            sections.append(
                {
                    "musicShelfRenderer": {
                        "title": {"runs": [{"text": "Top songs"}]},
                        "contents": [self.artist_song_item(s) for s in songs],
                    }
                }
            )
        if albums:
            sections.append(
                {
                    "musicCarouselShelfRenderer": {
                        "header": {"musicCarouselShelfBasicHeaderRenderer": {"title": {"runs": [{"text": "Albums"}]}}},
                        "contents": [self.artist_album_item(a) for a in albums],
                    }
                }
            )
        if artist.description:
            sections.append(
                {"musicDescriptionShelfRenderer": {"description": {"runs": [{"text": artist.description}]}}}
            )
        if not sections:
            sections.append({"musicCarouselShelfRenderer": {"header": {}, "contents": []}})
        return {
            "header": {
                "musicImmersiveHeaderRenderer": {
                    "title": {"runs": [{"text": artist.name}]},
                    "subscriptionButton": {
                        "subscribeButtonRenderer": {
                            "channelId": artist.browse_id,
                            "subscribed": False,
                            "subscriberCountText": {"runs": [{"text": "1.2K"}]},
                        }
                    },
                    **({"thumbnail": _thumbnails(f"{self.base_url}/media/cover.jpg")} if artist.picture else {}),
                }
            },
            "contents": {
                "singleColumnBrowseResultsRenderer": {
                    "tabs": [{"tabRenderer": {"content": {"sectionListRenderer": {"contents": sections}}}}]
                }
            },
        }

    def lyrics(self, browse_id: str) -> dict[str, Any] | None:
        song = self.catalog.songs.get(browse_id.removeprefix("MPLYt_"))
        if song is None or not song.lyrics:
            return None
        shelf = {"description": {"runs": [{"text": song.lyrics}]}, "footer": {"runs": [{"text": "Source: Fake"}]}}
        return {"contents": {"sectionListRenderer": {"contents": [{"musicDescriptionShelfRenderer": shelf}]}}}


class _Handler(BaseHTTPRequestHandler):
    server: FakeYTMusicServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload: object) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json; charset=utf-8")

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        self.server.record("GET " + url.path)
        if url.path == "/":
            self._send(200, b'<script>ytcfg.set({"VISITOR_DATA":"fake-visitor"});</script>', "text/html")
            return
        if url.path == "/playlist":
            # ytmusicapi's get_album_browse_id scrapes the album's MPRE id out of the playlist page.
            list_id = parse_qs(url.query).get("list", [""])[0]
            album = next((a for a in self.server.catalog.albums.values() if a.playlist_id == list_id), None)
            page = f'<script>var data = {{"browseId":"{album.browse_id}"}};</script>' if album else "<html></html>"
            self._send(200, page.encode(), "text/html")
            return
        if url.path == "/watch":
            video_id = parse_qs(url.query).get("v", [""])[0]
            song = self.server.catalog.songs.get(video_id)
            if song is None:
                serve_media(self, self.server.media, "status", "404")
                return
            route, _, arg = song.media.partition(":")
            if route == "status":
                serve_media(self, self.server.media, "status", arg)
            else:
                serve_media(self, self.server.media, "media" if route == "ok" else route, song.media_name)
            return
        parts = url.path.strip("/").split("/", 1)
        if len(parts) == 2 and parts[0] in ("media", "status", "truncated", "slow", "slowcut"):
            serve_media(self, self.server.media, parts[0], parts[1])
            return
        self._send(404, b"not found", "text/plain")

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        endpoint = url.path.removeprefix("/youtubei/v1/")
        self.server.record("POST " + endpoint)
        if self.server.latency_seconds:
            time.sleep(self.server.latency_seconds)
        fault = self.server.take_fault()
        if fault == "429-json":
            self._json(429, {"error": {"code": 429, "message": "Too many requests", "status": "RESOURCE_EXHAUSTED"}})
            return
        if fault == "429-html":
            self._send(429, b"<html><body>Our systems have detected unusual traffic</body></html>", "text/html")
            return
        if fault == "500":
            self._json(500, {"error": {"code": 500, "message": "Internal error", "status": "INTERNAL"}})
            return
        if fault == "hang":
            time.sleep(self.server.hang_seconds)
            self._json(200, {})
            return
        if fault == "layout":
            self._json(200, {"contents": {"somethingNewRenderer": {}}})
            return
        builder = _Builder(self.server.catalog, self.server.base_url)
        payload: dict[str, Any] | None
        if endpoint == "search":
            payload = builder.search(str(body.get("query", "")), body.get("params"))
        elif endpoint == "next":
            payload = builder.next(body.get("videoId"), body.get("playlistId"))
        elif endpoint == "browse":
            browse_id = str(body.get("browseId", ""))
            if browse_id.startswith("MPLYt"):
                payload = builder.lyrics(browse_id)
            elif browse_id.startswith("UC"):
                payload = builder.artist(browse_id)
            else:
                payload = builder.album(browse_id)
        else:
            payload = None
        if payload is None:
            self._json(404, {"error": {"code": 404, "message": "Requested entity was not found."}})
            return
        self._json(200, payload)


class FakeYTMusicServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that hang up mid-answer (cancelled downloads, timeouts) are expected here

    def __init__(self, catalog: Catalog, media: MediaStore) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.catalog = catalog
        self.media = media
        self.base_url = f"http://127.0.0.1:{self.server_address[1]}"
        self.calls: list[str] = []
        self.hang_seconds = 3.0
        # Every API answer waits this long first (benchmarks: an origin as slow as the real one).
        self.latency_seconds = 0.0
        self._faults: list[str] = []
        self._lock = threading.Lock()

    def record(self, call: str) -> None:
        with self._lock:
            self.calls.append(call)

    def fail_next(self, *faults: str) -> None:
        with self._lock:
            self._faults.extend(faults)

    def take_fault(self) -> str | None:
        with self._lock:
            return self._faults.pop(0) if self._faults else None

    def api_calls(self, endpoint: str) -> int:
        with self._lock:
            return sum(1 for c in self.calls if c == "POST " + endpoint)


@contextmanager
def ytmusic_server(catalog: Catalog, media: MediaStore | None = None) -> Iterator[FakeYTMusicServer]:
    server = FakeYTMusicServer(catalog, media or MediaStore())
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="fake-ytmusic", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def demo_catalog() -> Catalog:
    """A small catalog: one album of three songs (one greyed out), a single with lyrics, a user upload."""
    catalog = Catalog()
    band = FakeArtist("UCband0000000000000000001", "The Fakes", "A band that only plays on 127.0.0.1.")
    guest = FakeArtist("UCguest000000000000000001", "Guest Star")
    catalog.add_album(
        FakeAlbum("MPREb_fakealbum01", "Loopback Dreams", [band], 2017, "OLAK5uy_fakealbum01"),
        [
            FakeSong("vidAAAAAAA1", "Localhost Blues", [band], 2, lyrics="la la la\nlocal host"),
            FakeSong("vidAAAAAAA2", "Port Zero", [band, guest], 2, explicit=True),
            FakeSong("vidAAAAAAA3", "Greyed Out", [band], 2, available=False),
        ],
    )
    catalog.songs["vidUGCUGC01"] = FakeSong("vidUGCUGC01", "Localhost Blues (cover)", [guest], 2, video_type=UGC)
    catalog.artists[guest.browse_id] = guest
    catalog.playlists["PLfakeplaylist01"] = FakePlaylist(
        "PLfakeplaylist01", "Loopback Mix", "Someone", ["vidAAAAAAA1", "vidUGCUGC01"]
    )
    return catalog
