"""Shapes of the sources API."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from sources.models import ScanRun
from sources.selectors import SourceStatus


class SourceSerializer(serializers.Serializer[SourceStatus]):
    name = serializers.CharField()
    capabilities = serializers.ListField(child=serializers.CharField())
    available = serializers.BooleanField()
    message = serializers.CharField()
    # Paths and configuration details are for admins only.
    details = serializers.DictField(required=False)

    def to_representation(self, instance: SourceStatus) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": instance.name,
            "capabilities": [str(c) for c in instance.capabilities],
            "available": instance.health.available,
            "message": instance.health.message,
        }
        request = self.context.get("request")
        if request is not None and getattr(request.user, "is_admin", False):
            data["details"] = dict(instance.health.details)
        return data


class ScanErrorSerializer(serializers.Serializer[dict[str, str]]):
    path = serializers.CharField()
    error = serializers.CharField()
    kind = serializers.CharField()


class ScanRunSerializer(serializers.ModelSerializer[ScanRun]):
    requested_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = ScanRun
        fields = (
            "id",
            "source",
            "root",
            "state",
            "requested_by",
            "found",
            "added",
            "updated",
            "unchanged",
            "removed",
            "skipped",
            "failed",
            "rows_retried",
            "message",
            "created_at",
            "started_at",
            "heartbeat_at",
            "finished_at",
        )
        read_only_fields = fields

    def to_representation(self, instance: ScanRun) -> dict[str, Any]:
        data = dict(super().to_representation(instance))
        # "errors" would shadow Serializer.errors as a declared field, so the list is added here.
        data["errors"] = [ScanErrorSerializer(e).data for e in instance.errors or []]
        return data
