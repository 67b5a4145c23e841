"""Shapes of download jobs and external search hits in the REST API."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from downloads.models import DownloadJob, JobKind
from downloads.selectors import MarkedResult
from library.models import Track
from sources.base import ResultKind


class DownloadRequestSerializer(serializers.Serializer[Any]):
    source = serializers.CharField(max_length=32)  # type: ignore[assignment]  # DRF's Field.source attribute
    external_id = serializers.CharField(max_length=255)
    kind = serializers.ChoiceField(choices=JobKind.choices, default=JobKind.SONG)


class TrackBriefSerializer(serializers.ModelSerializer[Track]):
    album = serializers.CharField(source="album.name", read_only=True)
    artist = serializers.CharField(source="artist_display", read_only=True)

    class Meta:
        model = Track
        fields = ("id", "title", "artist", "album", "duration_ms", "path")


class DownloadJobSerializer(serializers.ModelSerializer[DownloadJob]):
    requested_by = serializers.CharField(source="requested_by.username", read_only=True, default=None)
    track = TrackBriefSerializer(read_only=True)
    error = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()

    class Meta:
        model = DownloadJob
        fields: tuple[str, ...] = (
            "id",
            "source",
            "external_id",
            "kind",
            "title",
            "parent",
            "requested_by",
            "state",
            "phase",
            "progress",
            "attempt",
            "max_attempts",
            "next_retry_at",
            "cancel_requested",
            "error",
            "track",
            "created_at",
            "started_at",
            "finished_at",
        )
        read_only_fields = fields

    def get_error(self, job: DownloadJob) -> dict[str, str] | None:
        if not job.error_class and not job.error_code:
            return None
        return {"class": job.error_class, "code": job.error_code, "message": job.error_message}

    def get_progress(self, job: DownloadJob) -> dict[str, Any]:
        return {
            "percent": job.percent,
            "bytes_done": job.bytes_done,
            "bytes_total": job.bytes_total,
            "speed": job.speed,
            "eta": job.eta,
        }


class DownloadJobDetailSerializer(DownloadJobSerializer):
    children = serializers.SerializerMethodField()

    class Meta(DownloadJobSerializer.Meta):
        fields = (*DownloadJobSerializer.Meta.fields, "children")
        read_only_fields = fields

    def get_children(self, job: DownloadJob) -> dict[str, int] | None:
        counts = self.context.get("children_counts")
        return counts if isinstance(counts, dict) else None


class DownloadRequestResultSerializer(serializers.Serializer[Any]):
    created = serializers.BooleanField()
    job = DownloadJobSerializer(allow_null=True)
    track = TrackBriefSerializer(allow_null=True)


class RetryFailedResultSerializer(serializers.Serializer[Any]):
    retried = serializers.IntegerField()


EXTERNAL_SEARCH_MAX_LIMIT = 50


class SearchQuerySerializer(serializers.Serializer[Any]):
    q = serializers.CharField(max_length=200, trim_whitespace=True)
    kind = serializers.ChoiceField(choices=[k.value for k in ResultKind], required=False)
    limit = serializers.IntegerField(min_value=1, max_value=EXTERNAL_SEARCH_MAX_LIMIT, default=20)


class SearchHitSerializer(serializers.Serializer[MarkedResult]):
    source = serializers.CharField(source="result.source")  # type: ignore[assignment]  # DRF's Field.source
    kind = serializers.CharField(source="result.kind")
    external_id = serializers.CharField(source="result.external_id")
    title = serializers.CharField(source="result.title")
    artists = serializers.ListField(source="result.artists", child=serializers.CharField())
    album = serializers.CharField(source="result.album")
    duration_ms = serializers.IntegerField(source="result.duration_ms", allow_null=True)
    year = serializers.IntegerField(source="result.year", allow_null=True)
    explicit = serializers.BooleanField(source="result.explicit", allow_null=True)
    thumbnail_url = serializers.CharField(source="result.thumbnail_url")
    extra = serializers.DictField(source="result.extra")
    in_library = serializers.IntegerField(source="track_id", allow_null=True, help_text="The track's id when present.")
    active_job = serializers.SerializerMethodField()

    def get_active_job(self, hit: MarkedResult) -> dict[str, str] | None:
        return {"id": hit.job_id, "state": hit.job_state or ""} if hit.job_id else None


class SearchResponseSerializer(serializers.Serializer[Any]):
    source = serializers.CharField()  # type: ignore[assignment]  # DRF's Field.source attribute
    query = serializers.CharField()
    kind = serializers.CharField(allow_null=True)
    results = SearchHitSerializer(many=True)


class SourceSearchSerializer(serializers.Serializer[Any]):
    source = serializers.CharField()  # type: ignore[assignment]  # DRF's Field.source attribute
    error = serializers.DictField(child=serializers.CharField(), allow_null=True)
    results = SearchHitSerializer(many=True)


class ExternalSearchResponseSerializer(serializers.Serializer[Any]):
    query = serializers.CharField()
    kind = serializers.CharField(allow_null=True)
    sources = SourceSearchSerializer(many=True)
