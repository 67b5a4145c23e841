"""Podcasts, jukebox, chat and video: not offered by this server; each answers a clear Subsonic error (code 0)
instead of an unknown-method error, so clients can tell "not here" from "wrong URL"."""

from __future__ import annotations

from subsonic.call import Call, View
from subsonic.errors import not_supported

PODCASTS = (
    "getPodcasts",
    "getNewestPodcasts",
    "refreshPodcasts",
    "createPodcastChannel",
    "deletePodcastChannel",
    "deletePodcastEpisode",
    "downloadPodcastEpisode",
    "getPodcastEpisode",
)
JUKEBOX = ("jukeboxControl",)
CHAT = ("getChatMessages", "addChatMessage")
VIDEO = ("getVideos", "getVideoInfo", "getCaptions", "hls")
METHODS = PODCASTS + JUKEBOX + CHAT + VIDEO


def refuse(method: str) -> View:
    def view(call: Call) -> None:
        raise not_supported(method)

    view.__name__ = f"unsupported_{method}"
    return view
