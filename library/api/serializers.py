"""Response and request shapes of the library API. Nested refs are small ({id, name}) so lists stay cheap."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from library.models import Album, Artist, Genre, Play, Playlist, PlaylistEntry, Track
from library.services import PLAYLIST_MAX_ENTRIES


class RefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)


class UserDataMixin(serializers.Serializer[Any]):
    """The requesting user's annotations, filled by `*_with_user_data` selectors."""

    starred_at = serializers.DateTimeField(read_only=True, allow_null=True)
    rating = serializers.IntegerField(read_only=True, min_value=0, max_value=5)
    play_count = serializers.IntegerField(read_only=True, min_value=0)


class GenreSerializer(serializers.ModelSerializer[Genre]):
    album_count = serializers.IntegerField(read_only=True)
    track_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Genre
        fields = ("id", "name", "album_count", "track_count")
        read_only_fields = fields


class ArtistSerializer(UserDataMixin, serializers.ModelSerializer[Artist]):
    class Meta:
        model = Artist
        fields: tuple[str, ...] = (
            "id",
            "name",
            "sort_name",
            "musicbrainz_id",
            "album_count",
            "track_count",
            "created_at",
            "starred_at",
            "rating",
            "play_count",
        )
        read_only_fields = fields


class AlbumSerializer(UserDataMixin, serializers.ModelSerializer[Album]):
    album_artist = RefSerializer(read_only=True)
    genres = RefSerializer(many=True, read_only=True)
    cover_url = serializers.SerializerMethodField()

    class Meta:
        model = Album
        fields: tuple[str, ...] = (
            "id",
            "name",
            "album_artist",
            "year",
            "original_year",
            "release_date",
            "is_compilation",
            "genres",
            "track_count",
            "disc_count",
            "duration_ms",
            "size_bytes",
            "musicbrainz_release_id",
            "musicbrainz_release_group_id",
            "cover_url",
            "created_at",
            "starred_at",
            "rating",
            "play_count",
        )
        read_only_fields = fields

    def get_cover_url(self, album: Album) -> str | None:
        return reverse("album-cover", args=[album.pk]) if album.cover_path else None


class TrackSerializer(UserDataMixin, serializers.ModelSerializer[Track]):
    artist = RefSerializer(read_only=True)
    album = RefSerializer(read_only=True)
    genres = RefSerializer(many=True, read_only=True)
    stream_url = serializers.SerializerMethodField()

    class Meta:
        model = Track
        fields = (
            "id",
            "title",
            "artist",
            "artist_display",
            "album",
            "genres",
            "track_number",
            "disc_number",
            "disc_subtitle",
            "year",
            "date",
            "duration_ms",
            "bitrate",
            "sample_rate",
            "bit_depth",
            "channels",
            "codec",
            "suffix",
            "content_type",
            "size_bytes",
            "source",
            "metadata_status",
            "is_missing",
            "musicbrainz_recording_id",
            "isrc",
            "replaygain_track_gain",
            "replaygain_track_peak",
            "replaygain_album_gain",
            "replaygain_album_peak",
            "replaygain_base_gain",
            "bpm",
            "explicit",
            "metadata_skips",
            "created_at",
            "stream_url",
            "starred_at",
            "rating",
            "play_count",
        )
        read_only_fields = fields

    def get_stream_url(self, track: Track) -> str:
        return reverse("track-stream", args=[track.pk])


class LyricsLineSerializer(serializers.Serializer[Any]):
    start_ms = serializers.IntegerField(allow_null=True, help_text="Null in unsynchronised lyrics.")
    text = serializers.CharField(allow_blank=True)


class LyricsVersionSerializer(serializers.Serializer[Any]):
    synced = serializers.BooleanField()
    offset_ms = serializers.IntegerField(help_text="LRC [offset:]: add to every start to show lines earlier.")
    lines = LyricsLineSerializer(many=True)


class TrackLyricsSerializer(serializers.Serializer[Any]):
    origin = serializers.CharField(
        allow_blank=True, help_text="Which LYRICS_PRIORITY entry they came from; empty when the song has none."
    )
    versions = LyricsVersionSerializer(many=True, help_text="The synchronised version first, then the plain one.")


class AlbumDetailSerializer(AlbumSerializer):
    tracks = TrackSerializer(many=True, read_only=True)

    class Meta(AlbumSerializer.Meta):
        fields = (*AlbumSerializer.Meta.fields, "tracks")
        read_only_fields = fields


class ArtistDetailSerializer(ArtistSerializer):
    albums = AlbumSerializer(many=True, read_only=True)

    class Meta(ArtistSerializer.Meta):
        fields = (*ArtistSerializer.Meta.fields, "albums")
        read_only_fields = fields


# ---------------------------------------------------------------------------------------------------------------
# Stars, ratings, plays
# ---------------------------------------------------------------------------------------------------------------
class StarStateSerializer(serializers.Serializer[Any]):
    starred = serializers.BooleanField()
    starred_at = serializers.DateTimeField(allow_null=True)


class TrackEditSerializer(serializers.Serializer[Any]):
    """A hand edit: only the fields sent change, and identification never overwrites them afterwards."""

    title = serializers.CharField(required=False, max_length=500)
    artist = serializers.CharField(required=False, max_length=500, help_text="The artist's name.")
    album = serializers.CharField(required=False, max_length=500, help_text="The album's name (same album artist).")
    year = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=9999)
    genres = serializers.ListField(
        child=serializers.CharField(max_length=255), required=False, max_length=20, help_text="Genre names."
    )
    track_number = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=32767)
    disc_number = serializers.IntegerField(required=False, min_value=1, max_value=32767)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(f"Not editable: {', '.join(unknown)}.")
        if not attrs:
            raise serializers.ValidationError(f"Send at least one of {', '.join(self.fields)}.")
        return attrs


class RatingSerializer(serializers.Serializer[Any]):
    rating = serializers.IntegerField(min_value=0, max_value=5, help_text="1-5; 0 clears the rating.")


class PlaySerializer(serializers.ModelSerializer[Play]):
    track = TrackSerializer(read_only=True)

    class Meta:
        model = Play
        fields = ("id", "track", "played_at", "client")
        read_only_fields = fields


class PlayCreateSerializer(serializers.Serializer[Any]):
    track_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    played_at = serializers.DateTimeField(required=False, help_text="When the play ended; defaults to now.")
    client = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")


# ---------------------------------------------------------------------------------------------------------------
# Playlists: no `owner` field in any write serializer, so the owner can only ever be the requesting user
# ---------------------------------------------------------------------------------------------------------------
def _track_ids_field(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), max_length=PLAYLIST_MAX_ENTRIES, **kwargs
    )


class OwnerSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(read_only=True)


class PlaylistSerializer(serializers.ModelSerializer[Playlist]):
    owner = OwnerSerializer(read_only=True)
    entry_count = serializers.IntegerField(read_only=True)
    duration_ms = serializers.IntegerField(read_only=True)

    class Meta:
        model = Playlist
        fields: tuple[str, ...] = (
            "id",
            "name",
            "comment",
            "is_public",
            "owner",
            "entry_count",
            "duration_ms",
            "created_at",
            "updated_at",
        )
        read_only_fields: tuple[str, ...] = fields


class PlaylistEntrySerializer(serializers.ModelSerializer[PlaylistEntry]):
    track = serializers.SerializerMethodField()

    class Meta:
        model = PlaylistEntry
        fields = ("position", "track")
        read_only_fields = fields

    @extend_schema_field(TrackSerializer)
    def get_track(self, entry: PlaylistEntry) -> dict[str, Any]:
        # The entry queryset carries the user's annotations; hand them to the track shape.
        track = entry.track
        for name in ("starred_at", "rating", "play_count"):
            setattr(track, name, getattr(entry, name, None))
        return dict(TrackSerializer(track, context=self.context).data)


class PlaylistDetailSerializer(PlaylistSerializer):
    entries = PlaylistEntrySerializer(many=True, read_only=True, source="entry_list")

    class Meta(PlaylistSerializer.Meta):
        fields = (*PlaylistSerializer.Meta.fields, "entries")
        read_only_fields = fields


class PlaylistCreateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=500)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=10_000, default="")
    is_public = serializers.BooleanField(required=False, default=False)
    track_ids = _track_ids_field(required=False, default=list)


class PlaylistUpdateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(required=False, max_length=500)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    is_public = serializers.BooleanField(required=False)


class PlaylistTrackIdsSerializer(serializers.Serializer[Any]):
    track_ids = _track_ids_field(allow_empty=True)


class PlaylistRemoveSerializer(serializers.Serializer[Any]):
    positions = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=PLAYLIST_MAX_ENTRIES), max_length=PLAYLIST_MAX_ENTRIES
    )


class PlaylistMoveSerializer(serializers.Serializer[Any]):
    from_position = serializers.IntegerField(min_value=0, max_value=PLAYLIST_MAX_ENTRIES)
    to_position = serializers.IntegerField(min_value=0, max_value=PLAYLIST_MAX_ENTRIES)


# ---------------------------------------------------------------------------------------------------------------
# Search
# ---------------------------------------------------------------------------------------------------------------
class SearchResultSerializer(serializers.Serializer[Any]):
    """Library matches; other apps may add keys (e.g. `external`) to the same object."""

    query = serializers.CharField()
    artists = ArtistSerializer(many=True)
    albums = AlbumSerializer(many=True)
    tracks = TrackSerializer(many=True)
