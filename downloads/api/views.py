"""Downloads API and external search. Views translate HTTP to downloads.services/selectors calls only."""

from __future__ import annotations

from typing import Any, cast

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.permissions import IsAdmin
from accounts.models import User
from downloads import selectors, services
from downloads.api.serializers import (
    EXTERNAL_SEARCH_MAX_LIMIT,
    DownloadJobDetailSerializer,
    DownloadJobSerializer,
    DownloadRequestResultSerializer,
    DownloadRequestSerializer,
    ExternalSearchResponseSerializer,
    RetryFailedResultSerializer,
    SearchHitSerializer,
    SearchQuerySerializer,
    SearchResponseSerializer,
    SourceSearchSerializer,
)
from downloads.models import DownloadJob
from library.api import views as library_views
from library.api.serializers import SearchResultSerializer
from mcma.api_errors import error_responses
from mcma.errors import InvalidInputError
from sources.base import ResultKind


def _user(request: Request) -> User:
    return cast(User, request.user)


def _int_or_none(value: str | None, name: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(str(value))
    except ValueError as exc:
        raise InvalidInputError(f"{name} must be an integer", details={name: value}) from exc


class DownloadListCreateView(ListAPIView[DownloadJob]):
    permission_classes = (IsAuthenticated,)
    serializer_class = DownloadJobSerializer
    queryset = DownloadJob.objects.none()  # the schema's model; requests use get_queryset

    @extend_schema(
        parameters=[
            OpenApiParameter("state", OpenApiTypes.STR, description="queued, running, retrying, succeeded..."),
            OpenApiParameter("user", OpenApiTypes.INT, description="Admins: one user's jobs."),
            OpenApiParameter("top_level", OpenApiTypes.BOOL, description="Hide the tracks of albums/playlists."),
        ],
        summary="Download jobs (own; admins see all)",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[DownloadJob]:
        if getattr(self, "swagger_fake_view", False):
            return DownloadJob.objects.none()
        params = self.request.query_params
        return selectors.download_jobs_visible(
            user=_user(self.request),
            state=params.get("state") or None,
            user_id=_int_or_none(params.get("user"), "user"),
            top_level=params.get("top_level", "").lower() in ("1", "true", "yes"),
        )

    @extend_schema(
        request=DownloadRequestSerializer,
        responses={202: DownloadRequestResultSerializer, 200: DownloadRequestResultSerializer},
        summary="Request a download (202 new job; 200 when already queued or already in the library)",
    )
    def post(self, request: Request) -> Response:
        payload = DownloadRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        result = services.download_request(
            user=_user(request),
            source=payload.validated_data["source"],
            external_id=payload.validated_data["external_id"],
            kind=payload.validated_data["kind"],
        )
        body = DownloadRequestResultSerializer(
            {"created": result.created, "job": result.job, "track": result.track}, context={"request": request}
        ).data
        return Response(body, status=status.HTTP_202_ACCEPTED if result.created else status.HTTP_200_OK)


class DownloadDetailView(APIView):
    permission_classes = (IsAuthenticated,)

    @extend_schema(responses=DownloadJobDetailSerializer, summary="One download job")
    def get(self, request: Request, job_id: str) -> Response:
        job = selectors.download_job_get(user=_user(request), job_id=job_id)
        counts = selectors.download_job_children_counts(job=job) if job.is_parent else None
        return Response(DownloadJobDetailSerializer(job, context={"children_counts": counts}).data)


class DownloadCancelView(APIView):
    permission_classes = (IsAuthenticated,)

    @extend_schema(request=None, responses=DownloadJobSerializer, summary="Cancel a download (409 when finished)")
    def post(self, request: Request, job_id: str) -> Response:
        job = selectors.download_job_get(user=_user(request), job_id=job_id)
        job = services.download_job_cancel(job=job, actor=_user(request))
        return Response(DownloadJobSerializer(job).data)


class DownloadRetryView(APIView):
    permission_classes = (IsAuthenticated,)

    @extend_schema(request=None, responses={202: DownloadJobSerializer}, summary="Retry a failed or cancelled download")
    def post(self, request: Request, job_id: str) -> Response:
        job = selectors.download_job_get(user=_user(request), job_id=job_id)
        job = services.download_job_retry(job=job, actor=_user(request))
        return Response(DownloadJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class DownloadRetryFailedView(APIView):
    permission_classes = (IsAdmin,)

    @extend_schema(request=None, responses={202: RetryFailedResultSerializer}, summary="Admin: retry every failure")
    def post(self, request: Request) -> Response:
        count = services.download_jobs_retry_failed(actor=_user(request))
        return Response({"retried": count}, status=status.HTTP_202_ACCEPTED)


class SourceSearchView(APIView):
    permission_classes = (IsAuthenticated,)

    @extend_schema(
        parameters=[SearchQuerySerializer],
        responses={200: SearchResponseSerializer, **error_responses(400, 401, 404, 409, 502)},
        summary="Search an external source (404 unknown source, 409 disabled, 502 when the source fails)",
    )
    def get(self, request: Request, source: str) -> Response:
        query = SearchQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        kind = query.validated_data.get("kind")
        marked = selectors.source_search(
            source=source,
            query=query.validated_data["q"],
            kind=ResultKind(kind) if kind else None,
            limit=query.validated_data["limit"],
        )
        return Response(
            {
                "source": source,
                "query": query.validated_data["q"],
                "kind": kind,
                "results": [SearchHitSerializer(hit).data for hit in marked],
            }
        )


class ExternalSearchView(APIView):
    """Every enabled source at once, each hit marked with the library and queue state; shown next to /search."""

    permission_classes = (IsAuthenticated,)

    @extend_schema(
        parameters=[SearchQuerySerializer],
        responses=ExternalSearchResponseSerializer,
        summary="Search every external source (a failing source is reported, never a 500)",
    )
    def get(self, request: Request) -> Response:
        query = SearchQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        kind = query.validated_data.get("kind")
        outcomes = selectors.external_search(
            query=query.validated_data["q"],
            kind=ResultKind(kind) if kind else None,
            limit=query.validated_data["limit"],
        )
        return Response({"query": query.validated_data["q"], "kind": kind, "sources": _outcomes_data(outcomes)})


def _outcomes_data(outcomes: list[selectors.SourceSearch]) -> list[dict[str, Any]]:
    return [
        {
            "source": outcome.source,
            "error": outcome.error,
            "results": [SearchHitSerializer(hit).data for hit in outcome.results],
        }
        for outcome in outcomes
    ]


class LibraryAndExternalSearchQuerySerializer(library_views.SearchQuerySerializer):
    external = serializers.BooleanField(
        default=True, help_text="Also search the enabled external sources (costs a round trip to each)."
    )


class LibraryAndExternalSearchSerializer(SearchResultSerializer):
    external = SourceSearchSerializer(many=True, help_text="One entry per enabled searchable source.")


class LibraryAndExternalSearchView(APIView):
    """`/search`: library matches next to external ones, so a client offers "play" and "download" in one list.

    It lives here, above both the library and the sources, because it marks external hits with library and queue
    state; the library's part comes whole from `library.api.views.library_search_data`, unaware of downloads.
    """

    @extend_schema(
        tags=["library"],
        summary="Search the library and every enabled external source side by side",
        parameters=[LibraryAndExternalSearchQuerySerializer],
        responses={200: LibraryAndExternalSearchSerializer, **error_responses(400, 401)},
    )
    def get(self, request: Request) -> Response:
        params = LibraryAndExternalSearchQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        library = library_views.library_search_data(
            user=_user(request), query=params.validated_data["q"], limit=params.validated_data["limit"]
        )
        outcomes = (
            selectors.external_search(
                query=params.validated_data["q"],
                kind=None,
                limit=min(params.validated_data["limit"], EXTERNAL_SEARCH_MAX_LIMIT),
            )
            if params.validated_data["external"]
            else []
        )
        return Response({**library, "external": _outcomes_data(outcomes)})
