"""Library API: browse artists/albums/tracks/genres, stream files, covers, stars, ratings, plays, playlists, search.

Views only translate: querysets come from library.selectors, writes go through library.services.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterable
from typing import Any

from django.http.response import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.pagination import PageNumberPagination
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.permissions import IsAdmin
from accounts.models import User
from library import lyrics, selectors, services
from library.api import filters
from library.api.serializers import (
    AlbumDetailSerializer,
    AlbumSerializer,
    ArtistDetailSerializer,
    ArtistSerializer,
    GenreSerializer,
    PlayCreateSerializer,
    PlaylistCreateSerializer,
    PlaylistDetailSerializer,
    PlaylistMoveSerializer,
    PlaylistRemoveSerializer,
    PlaylistSerializer,
    PlaylistTrackIdsSerializer,
    PlaylistUpdateSerializer,
    PlaySerializer,
    RatingSerializer,
    StarStateSerializer,
    TrackEditSerializer,
    TrackLyricsSerializer,
    TrackSerializer,
)
from library.enrichment import services as enrichment
from library.models import Album, Artist, Genre, Play, Playlist, Track
from library.streaming import file_response
from library.transcoding import CODECS, MAX_BITRATE, RAW, playback_response, stream_permission_check
from mcma.api_errors import error_responses as errors

ID_REGEX = r"[0-9]{1,18}"  # fits a 64-bit id; longer runs of digits are simply not found


class LibraryPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class FileContentNegotiation(BaseContentNegotiation):
    """File endpoints answer with the file whatever the client accepts (players send Accept: audio/*); errors
    still render as JSON with the first renderer."""

    def select_parser(self, request: Request, parsers: Any) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> Any:
        first = next(iter(renderers))
        return first, first.media_type


def _user(request: Request) -> User:
    user = request.user
    assert isinstance(user, User)  # every view here requires authentication first
    return user


FILE_RESPONSES: dict[int | tuple[int, str], Any] = {
    (206, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, description="Partial content (Range)"),
    304: OpenApiResponse(description="Not modified"),
    416: OpenApiResponse(description="Range not satisfiable"),
    **errors(401, 403, 404),
}
RANGE_HEADERS = [
    OpenApiParameter("Range", OpenApiTypes.STR, OpenApiParameter.HEADER, description="e.g. bytes=0-1023"),
]


class StreamQuerySerializer(serializers.Serializer[Any]):
    format = serializers.ChoiceField(
        choices=[*CODECS, RAW], required=False, help_text="Transcode to this codec; raw = the original file."
    )
    max_bitrate = serializers.IntegerField(
        min_value=0, max_value=MAX_BITRATE, default=0, help_text="kbps; above it the file is transcoded (0 = no limit)."
    )
    time_offset = serializers.IntegerField(min_value=0, default=0, help_text="Start this many seconds in.")
    estimate_length = serializers.BooleanField(
        default=False, help_text="Send a Content-Length the transcoded body matches exactly."
    )


# ---------------------------------------------------------------------------------------------------------------
# Browsing
# ---------------------------------------------------------------------------------------------------------------
@extend_schema_view(
    list=extend_schema(
        tags=["library"], summary="Artists", responses={200: ArtistSerializer(many=True), **errors(400, 401)}
    ),
    retrieve=extend_schema(
        tags=["library"],
        summary="An artist with their albums",
        responses={200: ArtistDetailSerializer, **errors(401, 404)},
    ),
)
class ArtistViewSet(viewsets.GenericViewSet[Any]):
    queryset = Artist.objects.none()  # the schema's model; requests use get_queryset
    serializer_class = ArtistSerializer
    filterset_class = filters.ArtistFilter
    pagination_class = LibraryPagination
    lookup_value_regex = ID_REGEX

    def get_queryset(self) -> Any:
        return selectors.artists_list(user=_user(self.request)).order_by("sort_name", "pk")

    def list(self, request: Request) -> Response:
        return _paginated(self, ArtistSerializer)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(ArtistDetailSerializer(selectors.artist_detail(user=_user(request), artist_id=int(pk))).data)


@extend_schema_view(
    list=extend_schema(
        tags=["library"], summary="Albums", responses={200: AlbumSerializer(many=True), **errors(400, 401)}
    ),
    retrieve=extend_schema(
        tags=["library"], summary="An album with its tracks", responses={200: AlbumDetailSerializer, **errors(401, 404)}
    ),
)
class AlbumViewSet(viewsets.GenericViewSet[Any]):
    queryset = Album.objects.none()  # the schema's model; requests use get_queryset
    serializer_class = AlbumSerializer
    filterset_class = filters.AlbumFilter
    pagination_class = LibraryPagination
    lookup_value_regex = ID_REGEX

    def get_queryset(self) -> Any:
        return selectors.albums_list(user=_user(self.request)).order_by("sort_name", "pk")

    def list(self, request: Request) -> Response:
        return _paginated(self, AlbumSerializer)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(AlbumDetailSerializer(selectors.album_detail(user=_user(request), album_id=int(pk))).data)

    @extend_schema(
        tags=["library"],
        summary="The album's cover image",
        parameters=RANGE_HEADERS,
        responses={(200, "image/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The image"), **FILE_RESPONSES},
    )
    @action(detail=True, methods=["get"], content_negotiation_class=FileContentNegotiation, filterset_class=None)
    def cover(self, request: Request, pk: str) -> HttpResponseBase:
        album = selectors.album_get(album_id=int(pk))
        path = selectors.media_file(relative=album.cover_path)
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return file_response(request._request, path=path, content_type=content_type)


@extend_schema_view(
    list=extend_schema(
        tags=["library"], summary="Tracks", responses={200: TrackSerializer(many=True), **errors(400, 401)}
    ),
    retrieve=extend_schema(tags=["library"], summary="A track", responses={200: TrackSerializer, **errors(401, 404)}),
    partial_update=extend_schema(
        tags=["library"],
        summary="Edit the track's tags by hand (admin); identification never overwrites the fields sent",
        request=TrackEditSerializer,
        responses={200: TrackSerializer, **errors(400, 401, 403, 404)},
        examples=[OpenApiExample("Fix a title and the year", value={"title": "Come Together", "year": 1969})],
    ),
)
class TrackViewSet(viewsets.GenericViewSet[Any]):
    queryset = Track.objects.none()  # the schema's model; requests use get_queryset
    serializer_class = TrackSerializer
    filterset_class = filters.TrackFilter
    pagination_class = LibraryPagination
    lookup_value_regex = ID_REGEX

    def get_queryset(self) -> Any:
        return selectors.tracks_list(user=_user(self.request)).order_by(
            "album__sort_name", "album_id", "disc_number", "track_number", "pk"
        )

    def list(self, request: Request) -> Response:
        return _paginated(self, TrackSerializer)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(TrackSerializer(self._track(request, pk)).data)

    def get_permissions(self) -> Any:
        return [IsAdmin()] if self.action == "partial_update" else super().get_permissions()

    def partial_update(self, request: Request, pk: str) -> Response:
        edit = TrackEditSerializer(data=request.data)
        edit.is_valid(raise_exception=True)
        enrichment.track_edit(track_id=int(pk), changes=dict(edit.validated_data))
        return Response(TrackSerializer(self._track(request, pk)).data)

    def _track(self, request: Request, pk: str) -> Any:
        return selectors.tracks_list(user=_user(request)).filter(pk=int(pk)).first() or selectors.track_get(
            track_id=int(pk)
        )

    @extend_schema(
        tags=["library"],
        summary="The track's audio: the file (Range, HEAD, ETag, conditional requests) or a transcode streamed as it "
        "encodes (format, max_bitrate, time_offset)",
        parameters=[*RANGE_HEADERS, StreamQuerySerializer],
        responses={(200, "audio/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The file"), **FILE_RESPONSES},
    )
    @action(detail=True, methods=["get"], content_negotiation_class=FileContentNegotiation, filterset_class=None)
    def stream(self, request: Request, pk: str) -> HttpResponseBase:
        user = _user(request)
        stream_permission_check(user=user)
        query = StreamQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        track = selectors.track_get(track_id=int(pk))
        return playback_response(
            request._request,
            track=track,
            path=selectors.media_file(relative=track.path),
            user_id=user.pk,
            limits=selectors.playback_limits(user=user, client=""),
            requested_format=query.validated_data.get("format"),
            max_bitrate=query.validated_data["max_bitrate"],
            offset_seconds=query.validated_data["time_offset"],
            estimate_length=query.validated_data["estimate_length"],
        )

    @extend_schema(
        tags=["library"],
        summary="The track's lyrics, from the first source of LYRICS_PRIORITY that has some",
        responses={200: TrackLyricsSerializer, **errors(401, 404)},
    )
    @action(detail=True, methods=["get"], filterset_class=None)
    def lyrics(self, request: Request, pk: str) -> Response:
        return Response(TrackLyricsSerializer(lyrics.track_lyrics(selectors.track_get(track_id=int(pk)))).data)

    @extend_schema(
        tags=["annotations"],
        summary="Star (POST) or unstar (DELETE) the track",
        request=None,
        responses={200: StarStateSerializer, **errors(401, 404)},
    )
    @action(detail=True, methods=["post", "delete"], filterset_class=None)
    def star(self, request: Request, pk: str) -> Response:
        starred = request.method == "POST"
        services.star_set(user=_user(request), kind="track", ids=[int(pk)], starred=starred)
        track = self._track(request, pk)
        return Response({"starred": track.starred_at is not None, "starred_at": track.starred_at})

    @extend_schema(
        tags=["annotations"],
        summary="Rate the track 1-5 (0 clears)",
        request=RatingSerializer,
        responses={200: RatingSerializer, **errors(400, 401, 404)},
        examples=[OpenApiExample("Four stars", value={"rating": 4})],
    )
    @action(detail=True, methods=["put"], filterset_class=None)
    def rating(self, request: Request, pk: str) -> Response:
        serializer = RatingSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rating = serializer.validated_data["rating"]
        services.rating_set(user=_user(request), kind="track", item_id=int(pk), rating=rating)
        return Response({"rating": rating})


@extend_schema_view(
    list=extend_schema(
        tags=["library"], summary="Genres", responses={200: GenreSerializer(many=True), **errors(400, 401)}
    ),
    retrieve=extend_schema(tags=["library"], summary="A genre", responses={200: GenreSerializer, **errors(401, 404)}),
)
class GenreViewSet(viewsets.GenericViewSet[Any]):
    queryset = Genre.objects.none()  # the schema's model; requests use get_queryset
    serializer_class = GenreSerializer
    filterset_class = filters.GenreFilter
    pagination_class = LibraryPagination
    lookup_value_regex = ID_REGEX

    def get_queryset(self) -> Any:
        return selectors.genres_list()

    def list(self, request: Request) -> Response:
        return _paginated(self, GenreSerializer)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(GenreSerializer(selectors.genre_get(genre_id=int(pk))).data)


def _paginated(view: viewsets.GenericViewSet[Any], serializer_class: type[serializers.BaseSerializer[Any]]) -> Response:
    queryset = view.filter_queryset(view.get_queryset())
    page = view.paginate_queryset(queryset)
    return view.get_paginated_response(serializer_class(page, many=True).data)


# ---------------------------------------------------------------------------------------------------------------
# Plays and search
# ---------------------------------------------------------------------------------------------------------------
class PlayListView(generics.GenericAPIView[Any]):
    queryset = Play.objects.none()  # the schema's model; requests use selectors.plays_of
    serializer_class = PlaySerializer
    pagination_class = LibraryPagination
    filterset_class = None

    @extend_schema(
        tags=["annotations"],
        summary="Your play history, newest first",
        responses={200: PlaySerializer(many=True), **errors(401, 404)},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.plays_of(user=_user(request)))
        return self.get_paginated_response(PlaySerializer(page, many=True).data)

    @extend_schema(
        tags=["annotations"],
        summary="Record a completed play (bumps play counts)",
        request=PlayCreateSerializer,
        examples=[OpenApiExample("Scrobble", value={"track_id": 42, "client": "my-player"}, request_only=True)],
        responses={201: PlaySerializer, **errors(400, 401, 404)},
    )
    def post(self, request: Request) -> Response:
        serializer = PlayCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        track = selectors.track_get(track_id=serializer.validated_data["track_id"])
        play = services.play_record(
            user=_user(request),
            track=track,
            played_at=serializer.validated_data.get("played_at"),
            client=serializer.validated_data["client"],
        )
        return Response(PlaySerializer(play).data, status=status.HTTP_201_CREATED)


class SearchQuerySerializer(serializers.Serializer[Any]):
    q = serializers.CharField(max_length=200, help_text="Words to find; accents and case are ignored.")
    limit = serializers.IntegerField(required=False, default=20, min_value=1, max_value=100)


def library_search_data(*, user: User, query: str, limit: int) -> dict[str, Any]:
    """The library's part of `/search` (the SearchResultSerializer shape): artists, albums and tracks matching
    `query`, at most `limit` of each. The route is downloads' `/search`, which adds external hits next to these."""
    hits = selectors.catalog_search(user=user, query=query, limit=limit)
    return {
        "query": query,
        "artists": ArtistSerializer(hits.artists, many=True).data,
        "albums": AlbumSerializer(hits.albums, many=True).data,
        "tracks": TrackSerializer(hits.tracks, many=True).data,
    }


# ---------------------------------------------------------------------------------------------------------------
# Playlists
# ---------------------------------------------------------------------------------------------------------------
PLAYLIST_WRITE_ERRORS = errors(400, 401, 403, 404)


class PlaylistViewSet(
    mixins.ListModelMixin,
    viewsets.GenericViewSet[Any],
):
    """Your playlists and everyone's public ones. Only the owner can change a playlist."""

    queryset = Playlist.objects.none()  # the schema's model; requests use get_queryset
    serializer_class = PlaylistSerializer
    pagination_class = LibraryPagination
    filterset_class = None
    lookup_value_regex = ID_REGEX

    def get_queryset(self) -> Any:
        return selectors.playlists_visible(user=_user(self.request))

    def _detail(self, request: Request, playlist_id: int, *, status_code: int = status.HTTP_200_OK) -> Response:
        user = _user(request)
        playlist = selectors.playlist_get(user=user, playlist_id=playlist_id)
        playlist.entry_list = list(selectors.playlist_entries(playlist=playlist, user=user))  # type: ignore[attr-defined]
        return Response(PlaylistDetailSerializer(playlist).data, status=status_code)

    def _owned(self, request: Request, pk: str) -> Playlist:
        return selectors.playlist_get(user=_user(request), playlist_id=int(pk))

    @extend_schema(
        tags=["playlists"], summary="Visible playlists", responses={200: PlaylistSerializer(many=True), **errors(401)}
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        tags=["playlists"],
        summary="Create a playlist owned by you",
        request=PlaylistCreateSerializer,
        responses={201: PlaylistDetailSerializer, **PLAYLIST_WRITE_ERRORS},
        examples=[OpenApiExample("New", value={"name": "Road trip", "is_public": False, "track_ids": [1, 2]})],
    )
    def create(self, request: Request) -> Response:
        serializer = PlaylistCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        playlist = services.playlist_create(owner=_user(request), **serializer.validated_data)
        return self._detail(request, playlist.pk, status_code=status.HTTP_201_CREATED)

    @extend_schema(
        tags=["playlists"],
        summary="A playlist with its entries",
        responses={200: PlaylistDetailSerializer, **errors(401, 404)},
    )
    def retrieve(self, request: Request, pk: str) -> Response:
        return self._detail(request, int(pk))

    @extend_schema(
        tags=["playlists"],
        summary="Rename, comment, publish or hide a playlist",
        request=PlaylistUpdateSerializer,
        examples=[OpenApiExample("Publish", value={"name": "Road trip 2", "is_public": True}, request_only=True)],
        responses={200: PlaylistDetailSerializer, **PLAYLIST_WRITE_ERRORS},
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        playlist = self._owned(request, pk)
        serializer = PlaylistUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        services.playlist_update(playlist=playlist, actor=_user(request), **serializer.validated_data)
        return self._detail(request, playlist.pk)

    @extend_schema(
        tags=["playlists"],
        summary="Delete a playlist",
        responses={204: OpenApiResponse(description="Deleted"), **errors(401, 403, 404)},
    )
    def destroy(self, request: Request, pk: str) -> Response:
        services.playlist_delete(playlist=self._owned(request, pk), actor=_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        tags=["playlists"],
        summary="Append tracks (POST) or replace the whole track list in a new order (PUT)",
        request=PlaylistTrackIdsSerializer,
        examples=[OpenApiExample("Tracks", value={"track_ids": [42, 7, 42]}, request_only=True)],
        responses={200: PlaylistDetailSerializer, **PLAYLIST_WRITE_ERRORS},
    )
    @action(detail=True, methods=["post", "put"], filterset_class=None, pagination_class=None)
    def tracks(self, request: Request, pk: str) -> Response:
        playlist = self._owned(request, pk)
        serializer = PlaylistTrackIdsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        track_ids = serializer.validated_data["track_ids"]
        if request.method == "PUT":
            services.playlist_tracks_replace(playlist=playlist, actor=_user(request), track_ids=track_ids)
        else:
            services.playlist_update(playlist=playlist, actor=_user(request), add_track_ids=track_ids)
        return self._detail(request, playlist.pk)

    @extend_schema(
        tags=["playlists"],
        summary="Remove the entries at these positions",
        request=PlaylistRemoveSerializer,
        examples=[OpenApiExample("First and third", value={"positions": [0, 2]}, request_only=True)],
        responses={200: PlaylistDetailSerializer, **PLAYLIST_WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="tracks/remove", filterset_class=None, pagination_class=None)
    def tracks_remove(self, request: Request, pk: str) -> Response:
        playlist = self._owned(request, pk)
        serializer = PlaylistRemoveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.playlist_update(
            playlist=playlist, actor=_user(request), remove_positions=serializer.validated_data["positions"]
        )
        return self._detail(request, playlist.pk)

    @extend_schema(
        tags=["playlists"],
        summary="Move one entry to another position",
        request=PlaylistMoveSerializer,
        examples=[OpenApiExample("Last to top", value={"from_position": 9, "to_position": 0}, request_only=True)],
        responses={200: PlaylistDetailSerializer, **PLAYLIST_WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="tracks/move", filterset_class=None, pagination_class=None)
    def tracks_move(self, request: Request, pk: str) -> Response:
        playlist = self._owned(request, pk)
        serializer = PlaylistMoveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.playlist_entry_move(playlist=playlist, actor=_user(request), **serializer.validated_data)
        return self._detail(request, playlist.pk)
