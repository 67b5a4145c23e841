"""System: ping, getLicense, getOpenSubsonicExtensions (public), tokenInfo."""

from __future__ import annotations

from subsonic.call import Call, NodeList
from subsonic.responses import Node

# Only what really works. `transcodeOffset` is left out on purpose: streams are raw files until the media
# pipeline transcodes, so a seek via `timeOffset` would restart the song; clients seek with Range instead.
EXTENSIONS: dict[str, list[int]] = {
    "formPost": [1],
    "apiKeyAuthentication": [1],
    "songLyrics": [1],
    "indexBasedQueue": [1],
    "topSongsByArtistId": [1],
}


def ping(call: Call) -> None:
    return None


def get_license(call: Call) -> Node:
    return Node("license", {"valid": True})


def get_open_subsonic_extensions(call: Call) -> NodeList:
    nodes = []
    for name, versions in EXTENSIONS.items():
        node = Node("openSubsonicExtensions", {"name": name})
        node.add_values("versions", versions)
        nodes.append(node)
    return NodeList("openSubsonicExtensions", nodes)


def token_info(call: Call) -> Node:
    return Node("tokenInfo", {"username": call.user.username})
