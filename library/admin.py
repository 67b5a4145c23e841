"""Django admin for the library: every model, with list columns, search and filters that stay fast at 100k tracks.

Artist and album filters are text inputs (a name fragment) rather than Django's default lists, which would
render every artist of a large library into the sidebar.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest

from library.enrichment import services as enrichment
from library.models import (
    Album,
    AlbumAnnotation,
    Artist,
    ArtistAnnotation,
    Bookmark,
    Genre,
    InternetRadioStation,
    NowPlaying,
    PendingListen,
    PendingReference,
    Play,
    PlayerProfile,
    Playlist,
    PlaylistEntry,
    PlayQueue,
    PlayQueueEntry,
    ServiceRateSlot,
    Share,
    ShareEntry,
    Track,
    TrackAnnotation,
    TrackArtist,
    TrackEnrichment,
    TrackLyrics,
)
from library.text import fold
from mcma.errors import ApplicationError


class NameContainsFilter(admin.SimpleListFilter):
    """A free-text filter on a related name's folded key (e.g. artist name contains "beatles")."""

    template = "admin/library/input_filter.html"
    lookup: str = ""

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("", "")]  # one dummy entry so the admin renders the filter

    # The input template needs the other active filters as hidden fields, not the usual link choices.
    def choices(self, changelist: Any) -> Iterator[dict[str, Any]]:  # type: ignore[override]
        other_params = [
            (key, value) for key, value in changelist.get_filters_params().items() if key != self.parameter_name
        ]
        flat = [(key, v) for key, values in other_params for v in (values if isinstance(values, list) else [values])]
        yield {"parameter_name": self.parameter_name, "value": self.value(), "other_params": flat}

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value:
            return queryset.filter(**{f"{self.lookup}__contains": fold(value)})
        return queryset


class ArtistFilter(NameContainsFilter):
    title = "artist"
    parameter_name = "artist_name"
    lookup = "artist__name_key"


class AlbumFilter(NameContainsFilter):
    title = "album"
    parameter_name = "album_name"
    lookup = "album__name_key"


class AlbumArtistFilter(NameContainsFilter):
    title = "album artist"
    parameter_name = "album_artist_name"
    lookup = "album_artist__name_key"


@admin.register(TrackLyrics)
class TrackLyricsAdmin(admin.ModelAdmin):
    list_display = ("track", "kind", "synced", "updated_at")
    list_filter = ("kind", "synced")
    raw_id_fields = ("track",)


@admin.register(Genre)
class GenreAdmin(admin.ModelAdmin):
    list_display = ("name", "name_key")
    search_fields = ("name", "name_key")


@admin.register(Artist)
class ArtistAdmin(admin.ModelAdmin):
    list_display = ("name", "sort_name", "album_count", "track_count", "musicbrainz_id", "created_at")
    search_fields = ("name", "name_key", "musicbrainz_id")
    list_filter = ("created_at",)
    readonly_fields = ("name_key", "album_count", "track_count", "created_at", "updated_at")


@admin.register(Album)
class AlbumAdmin(admin.ModelAdmin):
    list_display = ("name", "album_artist", "year", "track_count", "disc_count", "is_compilation", "has_cover")
    list_select_related = ("album_artist",)
    search_fields = ("name", "name_key", "album_artist__name", "musicbrainz_release_id")
    list_filter = (AlbumArtistFilter, "year", "is_compilation", ("genres", admin.RelatedOnlyFieldListFilter))
    raw_id_fields = ("album_artist",)
    filter_horizontal = ("genres",)
    readonly_fields = ("name_key", "track_count", "disc_count", "duration_ms", "size_bytes", "created_at")

    @admin.display(boolean=True, description="cover")
    def has_cover(self, album: Album) -> bool:
        return bool(album.cover_path)


class TrackArtistInline(admin.TabularInline):
    model = TrackArtist
    raw_id_fields = ("artist",)
    extra = 0


class TrackEnrichmentInline(admin.TabularInline):
    model = TrackEnrichment
    fields = ("created_at", "musicbrainz_recording_id", "musicbrainz_release_id", "score", "changes", "reverted_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Track)
class TrackAdmin(admin.ModelAdmin):
    list_display = (
        "title",
        "artist",
        "album",
        "disc_number",
        "track_number",
        "year",
        "suffix",
        "source",
        "metadata_status",
        "is_missing",
    )
    list_select_related = ("artist", "album")
    search_fields = ("title", "title_key", "artist__name", "album__name", "source_id", "path")
    list_filter = (
        ArtistFilter,
        AlbumFilter,
        ("genres", admin.RelatedOnlyFieldListFilter),
        "year",
        "source",
        "metadata_status",
        "is_missing",
        "suffix",
    )
    raw_id_fields = ("artist", "album")
    filter_horizontal = ("genres",)
    inlines = (TrackArtistInline, TrackEnrichmentInline)
    actions = ("identify", "revert_identification")
    readonly_fields = (
        "metadata_reason",
        "source",
        "source_id",
        "path",
        "size_bytes",
        "checksum",
        "source_mtime_ns",
        "source_size",
        "duration_ms",
        "bitrate",
        "sample_rate",
        "bit_depth",
        "channels",
        "codec",
        "content_type",
        "created_at",
        "updated_at",
    )
    show_full_result_count = False  # COUNT(*) over 100k filtered rows on every page is the slow part

    def save_model(self, request: HttpRequest, obj: Track, form: ModelForm[Track], change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change:
            enrichment.track_edited_fields_record(track=obj, field_names=form.changed_data)

    @admin.action(description="Identify with MusicBrainz (in the background)")
    def identify(self, request: HttpRequest, queryset: QuerySet[Track]) -> None:
        if not enrichment.enrichment_enabled():
            self.message_user(request, "Identification is off: set MUSICBRAINZ_ENABLED=true.", messages.ERROR)
            return
        ids = list(queryset.values_list("pk", flat=True))
        enrichment.enrichment_enqueue(track_ids=ids)
        self.message_user(request, f"{len(ids)} tracks queued for identification.")

    @admin.action(description="Revert the latest identification")
    def revert_identification(self, request: HttpRequest, queryset: QuerySet[Track]) -> None:
        reverted, problems = 0, []
        for track_id in queryset.values_list("pk", flat=True):
            try:
                enrichment.enrichment_revert(track_id=track_id)
                reverted += 1
            except ApplicationError as exc:
                problems.append(exc.message)
        if reverted:
            self.message_user(request, f"{reverted} tracks reverted.")
        for problem in problems[:10]:
            self.message_user(request, problem, messages.WARNING)


@admin.register(TrackArtist)
class TrackArtistAdmin(admin.ModelAdmin):
    list_display = ("track", "artist", "role", "position")
    list_select_related = ("track", "artist")
    list_filter = ("role",)
    search_fields = ("track__title", "artist__name")
    raw_id_fields = ("track", "artist")


_ANNOTATION_COLUMNS = ("user", "starred_at", "rating", "play_count", "last_played_at")


class AnnotationAdmin(admin.ModelAdmin):
    list_filter = ("rating",)
    search_fields = ("user__username",)


@admin.register(TrackAnnotation)
class TrackAnnotationAdmin(AnnotationAdmin):
    list_display = ("track", *_ANNOTATION_COLUMNS)
    list_select_related = ("track", "user")
    raw_id_fields = ("user", "track")


@admin.register(AlbumAnnotation)
class AlbumAnnotationAdmin(AnnotationAdmin):
    list_display = ("album", *_ANNOTATION_COLUMNS)
    list_select_related = ("album", "user")
    raw_id_fields = ("user", "album")


@admin.register(ArtistAnnotation)
class ArtistAnnotationAdmin(AnnotationAdmin):
    list_display = ("artist", *_ANNOTATION_COLUMNS)
    list_select_related = ("artist", "user")
    raw_id_fields = ("user", "artist")


@admin.register(Play)
class PlayAdmin(admin.ModelAdmin):
    list_display = ("played_at", "user", "track", "client")
    list_select_related = ("user", "track")
    list_filter = ("played_at", "client")
    search_fields = ("user__username", "track__title")
    raw_id_fields = ("user", "track")
    date_hierarchy = "played_at"


@admin.register(PendingListen)
class PendingListenAdmin(admin.ModelAdmin):
    """Read-only: plays waiting for ListenBrainz or Last.fm; a row goes once sent."""

    list_display = ("play", "service", "attempts", "next_attempt_at", "last_error")
    list_filter = ("service",)
    list_select_related = ("play__user", "play__track")
    search_fields = ("play__user__username", "play__track__title")
    raw_id_fields = ("play",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(NowPlaying)
class NowPlayingAdmin(admin.ModelAdmin):
    list_display = ("user", "player", "track", "state", "started_at", "reported_at")
    list_select_related = ("user", "track")
    raw_id_fields = ("user", "track")


class PlaylistEntryInline(admin.TabularInline):
    model = PlaylistEntry
    raw_id_fields = ("track",)
    extra = 0


@admin.register(TrackEnrichment)
class TrackEnrichmentAdmin(admin.ModelAdmin):
    """What identification changed, per track: read-only (the record of a change is not edited; it is reverted
    from the track list)."""

    list_display = ("track", "musicbrainz_recording_id", "musicbrainz_release_id", "score", "created_at", "reverted_at")
    list_select_related = ("track",)
    search_fields = ("track__title", "musicbrainz_recording_id", "musicbrainz_release_id")
    list_filter = ("reverted_at",)
    raw_id_fields = ("track",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ServiceRateSlot)
class ServiceRateSlotAdmin(admin.ModelAdmin):
    """The shared request slots of the identification services; clearing `paused_until` resumes a service."""

    list_display = ("service", "next_at", "paused_until")
    search_fields = ("service",)


@admin.register(Playlist)
class PlaylistAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "is_public", "created_at", "updated_at")
    list_select_related = ("owner",)
    list_filter = ("is_public",)
    search_fields = ("name", "owner__username")
    raw_id_fields = ("owner",)
    inlines = (PlaylistEntryInline,)


@admin.register(Bookmark)
class BookmarkAdmin(admin.ModelAdmin):
    list_display = ("user", "track", "position_ms", "updated_at")
    list_select_related = ("user", "track")
    search_fields = ("user__username", "track__title")
    raw_id_fields = ("user", "track")


class PlayQueueEntryInline(admin.TabularInline):
    model = PlayQueueEntry
    raw_id_fields = ("track",)
    extra = 0


@admin.register(PlayQueue)
class PlayQueueAdmin(admin.ModelAdmin):
    list_display = ("user", "current_index", "position_ms", "changed_at", "changed_by")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    inlines = (PlayQueueEntryInline,)


@admin.register(InternetRadioStation)
class InternetRadioStationAdmin(admin.ModelAdmin):
    list_display = ("name", "stream_url", "homepage_url")
    search_fields = ("name", "stream_url")


@admin.register(PlayerProfile)
class PlayerProfileAdmin(admin.ModelAdmin):
    list_display = ("client_name", "max_bitrate", "default_format", "updated_at")
    list_filter = ("default_format",)
    search_fields = ("client_name",)


class ShareEntryInline(admin.TabularInline):
    model = ShareEntry
    raw_id_fields = ("track",)
    extra = 0


@admin.register(Share)
class ShareAdmin(admin.ModelAdmin):
    list_display = ("short_token", "owner", "description", "expires_at", "visit_count", "last_visited_at")
    list_select_related = ("owner",)
    search_fields = ("owner__username", "description")
    raw_id_fields = ("owner",)
    readonly_fields = ("token", "visit_count", "last_visited_at")
    inlines = (ShareEntryInline,)

    @admin.display(description="token")
    def short_token(self, share: Share) -> str:
        return f"{share.token[:8]}…"


@admin.register(PlaylistEntry)
class PlaylistEntryAdmin(admin.ModelAdmin):
    list_display = ("playlist", "position", "track")
    list_select_related = ("playlist", "track")
    search_fields = ("playlist__name", "track__title")
    raw_id_fields = ("playlist", "track")


@admin.register(PlayQueueEntry)
class PlayQueueEntryAdmin(admin.ModelAdmin):
    list_display = ("queue", "position", "track")
    list_select_related = ("queue__user", "track")
    search_fields = ("queue__user__username", "track__title")
    raw_id_fields = ("queue", "track")


@admin.register(ShareEntry)
class ShareEntryAdmin(admin.ModelAdmin):
    list_display = ("share", "position", "track")
    list_select_related = ("share", "track")
    search_fields = ("track__title",)
    raw_id_fields = ("share", "track")


@admin.register(PendingReference)
class PendingReferenceAdmin(admin.ModelAdmin):
    """Read-only: rows come from Subsonic players and go when their download lands."""

    list_display = ("created_at", "user", "action", "source", "external_id", "playlist", "position")
    list_select_related = ("user", "playlist")
    list_filter = ("action", "source")
    search_fields = ("user__username", "external_id")
    raw_id_fields = ("user", "playlist")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
