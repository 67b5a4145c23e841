"""Sources API: list sources, their health, and local folder scans. Views only translate; see sources.services."""

from __future__ import annotations

from typing import cast

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.permissions import IsAdmin
from accounts.models import User
from sources import selectors, services
from sources.api.serializers import ScanRunSerializer, SourceSerializer
from sources.models import ScanRun


class SourceListView(APIView):
    permission_classes = (IsAuthenticated,)

    @extend_schema(responses=SourceSerializer(many=True), summary="Configured sources and their availability")
    def get(self, request: Request) -> Response:
        statuses = selectors.source_list()
        return Response([SourceSerializer(s, context={"request": request}).data for s in statuses])


class SourceHealthView(APIView):
    permission_classes = (IsAuthenticated,)

    @extend_schema(responses=SourceSerializer, summary="Health of one source")
    def get(self, request: Request, source: str) -> Response:
        status_ = selectors.source_status(source_name=source)
        return Response(SourceSerializer(status_, context={"request": request}).data)


class ScanStartView(APIView):
    permission_classes = (IsAdmin,)

    @extend_schema(request=None, responses={202: ScanRunSerializer}, summary="Start a scan of the source's folder")
    def post(self, request: Request, source: str) -> Response:
        scan = services.scan_enqueue(source_name=source, requested_by=cast(User, request.user))
        return Response(ScanRunSerializer(scan).data, status=status.HTTP_202_ACCEPTED)


class ScanListView(ListAPIView[ScanRun]):
    permission_classes = (IsAdmin,)
    serializer_class = ScanRunSerializer

    def get_queryset(self) -> QuerySet[ScanRun]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no URL kwargs
            return ScanRun.objects.none()
        return selectors.scan_list(source_name=self.kwargs["source"])


class ScanDetailView(APIView):
    permission_classes = (IsAdmin,)

    @extend_schema(responses=ScanRunSerializer, summary="State, counts and per-file errors of a scan")
    def get(self, request: Request, source: str, scan_id: int) -> Response:
        scan = selectors.scan_get(source_name=source, scan_id=scan_id)
        return Response(ScanRunSerializer(scan).data)
