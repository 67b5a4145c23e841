"""System: ping, getLicense, getOpenSubsonicExtensions (public), tokenInfo."""

from __future__ import annotations

from library import transcoding
from subsonic.call import Call, NodeList
from subsonic.responses import Node

# Only what really works.
EXTENSIONS: dict[str, list[int]] = {
    "formPost": [1],
    "apiKeyAuthentication": [1],
    "songLyrics": [1],
    "indexBasedQueue": [1],
    "topSongsByArtistId": [1],
    "playbackReport": [1],
}


def ping(call: Call) -> None:
    return None


def get_license(call: Call) -> Node:
    return Node("license", {"valid": True})


# Both need ffmpeg on this machine: `stream` seeks with `timeOffset` by transcoding from there, and
# getTranscodeDecision / getTranscodeStream transcode for a player's profile.
TRANSCODE_EXTENSIONS: dict[str, list[int]] = {"transcodeOffset": [1], "transcoding": [1]}


def get_open_subsonic_extensions(call: Call) -> NodeList:
    nodes = []
    offered = {**EXTENSIONS, **(TRANSCODE_EXTENSIONS if transcoding.ffmpeg_path() else {})}
    for name, versions in offered.items():
        node = Node("openSubsonicExtensions", {"name": name})
        node.add_values("versions", versions)
        nodes.append(node)
    return NodeList("openSubsonicExtensions", nodes)


def token_info(call: Call) -> Node:
    return Node("tokenInfo", {"username": call.user.username})
