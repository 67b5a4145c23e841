"""What a Subsonic view receives (the request, typed params, the caller, the output profile) and may return."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.http import HttpRequest
from django.http.response import HttpResponseBase

from accounts.models import User
from library import selectors
from library.transcoding import PlaybackLimits
from sources.registry import get_source, source_names
from subsonic.errors import not_authorized, not_found
from subsonic.params import Params
from subsonic.responses import Node, Profile


@dataclass(slots=True)
class NodeList:
    """A payload that is a bare list under the root (`openSubsonicExtensions`)."""

    name: str
    nodes: list[Node] = field(default_factory=list)


Result = Node | NodeList | HttpResponseBase | None


@dataclass(slots=True)
class Call:
    request: HttpRequest
    params: Params
    profile: Profile
    client: str
    caller: User | None = None
    _limits: PlaybackLimits | None = field(default=None, init=False, repr=False)

    @property
    def user(self) -> User:
        """The authenticated user; public routes never ask for it."""
        if self.caller is None:
            raise not_authorized("Authentication required")
        return self.caller

    def playback_limits(self) -> PlaybackLimits:
        """The caller's admin-set limits on this player, read once per request (song entries announce the
        transcode they imply; stream applies them)."""
        if self._limits is None:
            self._limits = selectors.playback_limits(user=self.user, client=self.client)
        return self._limits

    def require_admin(self) -> User:
        user = self.user
        if not user.is_admin:
            raise not_authorized(f"User {user.username!r} is not authorized for this operation (admin only)")
        return user

    def require_role(self, allowed: bool, role: str) -> None:
        if not allowed:
            raise not_authorized(f"User {self.user.username!r} lacks the {role} role")

    def folder_source(self) -> str | None:
        """The source alias behind `musicFolderId` (music folders are the configured sources, numbered from 1)."""
        folder_id = self.params.integer("musicFolderId")
        if folder_id is None:
            return None
        folders = music_folders()
        if folder_id not in folders:
            raise not_found(f"Music folder {folder_id}")
        return folders[folder_id]

    @property
    def full(self) -> bool:
        """OpenSubsonic fields are included."""
        return self.profile is Profile.FULL


View = Callable[[Call], Result]


def music_folders() -> dict[int, str]:
    """The enabled sources' aliases by folder id. The id is the source's position in the configuration, from 1,
    so switching a source off never renumbers the others (players keep folder ids)."""
    return {folder_id: name for folder_id, name in enumerate(source_names(), 1) if get_source(name).enabled}
