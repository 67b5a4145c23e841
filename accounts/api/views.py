"""Accounts API: JWT login/refresh/logout, the current user, Subsonic app-passwords, API keys, admin user CRUD.

Views translate HTTP to service and selector calls; every rule lives in accounts.services/selectors.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenRefreshView as SimpleJWTTokenRefreshView

from accounts import selectors, services
from accounts.api.permissions import IsAdmin
from accounts.api.serializers import (
    AdminUserCreateSerializer,
    AdminUserUpdateSerializer,
    ApiKeyCreatedSerializer,
    ApiKeyCreateSerializer,
    ApiKeySerializer,
    LastFmAuthorizeSerializer,
    LoginSerializer,
    MeSerializer,
    MeUpdateSerializer,
    PasswordChangeSerializer,
    RefreshSerializer,
    SafeTokenRefreshSerializer,
    SubsonicPasswordSerializer,
    TokenPairSerializer,
    UserSerializer,
)
from accounts.login_throttle import LoginThrottledError, login_attempt_charge, login_attempt_refund
from accounts.models import User
from mcma.api_errors import application_error_status
from mcma.api_errors import error_responses as errors
from mcma.errors import ApplicationError


def _secret(data: Any, *, status_code: int = status.HTTP_200_OK) -> Response:
    """A response carrying a secret: never cached by browsers or proxies."""
    response = Response(data, status=status_code)
    response["Cache-Control"] = "no-store"
    return response


def _user(request: Request) -> User:
    user = request.user
    assert isinstance(user, User)  # IsAuthenticated ran before any handler calls this
    return user


# ---------------------------------------------------------------------------------------------------------------
# Tokens
# ---------------------------------------------------------------------------------------------------------------
class TokenObtainView(APIView):
    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = ()  # failed logins have their own throttle, shared with the admin login

    @extend_schema(
        tags=["auth"],
        summary="Log in: username + password → access and refresh tokens",
        request=LoginSerializer,
        responses={
            200: TokenPairSerializer,
            **errors(400, 401, 429),
        },
        examples=[OpenApiExample("Login", value={"username": "alice", "password": "s3cret-pass"}, request_only=True)],
    )
    def post(self, request: Request) -> Response:
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        username = serializer.validated_data["username"]
        try:
            login_attempt_charge(request=request._request, username=username)
        except LoginThrottledError as exc:
            raise Throttled(exc.wait_seconds, detail=exc.message) from exc
        user = authenticate(request._request, username=username, password=serializer.validated_data["password"])
        if not isinstance(user, User) or not user.is_active:
            raise AuthenticationFailed("No active account found with the given credentials.", "invalid_credentials")
        login_attempt_refund(request=request._request, username=username)
        return _secret(services.token_pair_issue(user=user))

    def get_authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class TokenRefreshView(SimpleJWTTokenRefreshView):
    serializer_class = SafeTokenRefreshSerializer

    @extend_schema(
        tags=["auth"],
        summary="Exchange a refresh token for a new access token (and a rotated refresh token)",
        request=RefreshSerializer,
        responses={200: TokenPairSerializer, **errors(400, 401)},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().post(request, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        return response


class LogoutView(APIView):
    authentication_classes = ()
    permission_classes = (AllowAny,)

    @extend_schema(
        tags=["auth"],
        summary="Log out: blacklist the refresh token",
        request=RefreshSerializer,
        responses={204: OpenApiResponse(description="Logged out"), **errors(400)},
    )
    def post(self, request: Request) -> Response:
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.token_revoke(refresh=serializer.validated_data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------------------------------------------------------
# The current user
# ---------------------------------------------------------------------------------------------------------------
class MeView(APIView):
    @extend_schema(tags=["users"], summary="The current user", responses={200: MeSerializer, **errors(401)})
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(_user(request)).data)

    @extend_schema(
        tags=["users"],
        summary="Change the current user's profile (roles are changed by admins only)",
        description="`listenbrainz_token` is checked with ListenBrainz before it is stored (400 if refused, 503 if "
        "ListenBrainz can't be reached; then nothing is changed).",
        request=MeUpdateSerializer,
        responses={200: MeSerializer, **errors(400, 401, 503)},
    )
    def patch(self, request: Request) -> Response:
        serializer = MeUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        user = _user(request)
        if "listenbrainz_token" in fields:
            services.listenbrainz_token_set(user=user, token=fields.pop("listenbrainz_token"))
        user = services.user_update(user=user, **fields)
        return Response(MeSerializer(user).data)


class MeLastFmView(APIView):
    @extend_schema(
        tags=["users"],
        summary="Start connecting to Last.fm: the page to open in a browser",
        description="Last.fm asks you to allow this server, then sends the browser back to "
        "`/api/v1/lastfm/callback`, which stores the session (the link is good for an hour). 409 when the server "
        "has no Last.fm API account (`LASTFM_API_KEY`, `LASTFM_API_SECRET`).",
        request=None,
        responses={200: LastFmAuthorizeSerializer, **errors(401, 409)},
    )
    def post(self, request: Request) -> Response:
        callback = request.build_absolute_uri(reverse("lastfm-callback"))
        return _secret({"authorize_url": services.lastfm_authorize_start(user=_user(request), callback=callback)})

    @extend_schema(
        tags=["users"],
        summary="Disconnect from Last.fm (plays stop being sent there)",
        responses={204: OpenApiResponse(description="Disconnected"), **errors(401)},
    )
    def delete(self, request: Request) -> Response:
        services.lastfm_disconnect(user=_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


@require_GET
@never_cache  # its address holds Last.fm's token: no cache keeps the page
def lastfm_callback(request: HttpRequest) -> HttpResponse:
    """Where Last.fm sends the browser back (`state` from `MeLastFmView`, `token` from Last.fm): a page saying
    whether the account is connected. Not an API call: a person reads it."""
    try:
        link = services.lastfm_authorize_finish(state=request.GET.get("state", ""), token=request.GET.get("token", ""))
    except ApplicationError as exc:
        page = {"problem": exc.message}
        return render(request, "accounts/lastfm_callback.html", page, status=application_error_status(exc))
    return render(request, "accounts/lastfm_callback.html", {"username": link.lastfm_username})


class MePasswordView(APIView):
    @extend_schema(
        tags=["users"],
        summary="Change the login password (needs the current one); logs out every other session",
        request=PasswordChangeSerializer,
        examples=[
            OpenApiExample(
                "Change",
                value={"old_password": "old pass phrase", "new_password": "new pass phrase"},
                request_only=True,
            )
        ],
        responses={204: OpenApiResponse(description="Password changed"), **errors(400, 401)},
    )
    def post(self, request: Request) -> Response:
        serializer = PasswordChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.user_password_change(
            user=_user(request),
            old_password=serializer.validated_data["old_password"],
            new_password=serializer.validated_data["new_password"],
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeSubsonicPasswordView(APIView):
    @extend_schema(
        tags=["users"],
        summary="Reveal the Subsonic app-password (generated on first read)",
        responses={200: SubsonicPasswordSerializer, **errors(401, 409)},
    )
    def get(self, request: Request) -> Response:
        user = _user(request)
        return _secret({"username": user.username, "password": services.subsonic_password_reveal(user=user)})

    @extend_schema(
        tags=["users"],
        summary="Rotate the Subsonic app-password; the old one stops working",
        request=None,
        responses={200: SubsonicPasswordSerializer, **errors(401)},
    )
    def post(self, request: Request) -> Response:
        user = _user(request)
        return _secret({"username": user.username, "password": services.subsonic_password_rotate(user=user)})


class ApiKeyListView(APIView):
    @extend_schema(
        tags=["users"],
        summary="The current user's API keys (prefix only)",
        responses={200: ApiKeySerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        return Response(ApiKeySerializer(selectors.api_keys_of(user=_user(request)), many=True).data)

    @extend_schema(
        tags=["users"],
        summary="Create an API key; the raw key is in this response only",
        request=ApiKeyCreateSerializer,
        examples=[OpenApiExample("Backup script", value={"name": "backup script"}, request_only=True)],
        responses={201: ApiKeyCreatedSerializer, **errors(400, 401, 409)},
    )
    def post(self, request: Request) -> Response:
        serializer = ApiKeyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key, raw = services.api_key_create(user=_user(request), name=serializer.validated_data["name"])
        data = dict(ApiKeySerializer(key).data)
        data["key"] = raw
        return _secret(data, status_code=status.HTTP_201_CREATED)


class ApiKeyDetailView(APIView):
    @extend_schema(
        tags=["users"],
        summary="Revoke one of your API keys",
        responses={204: OpenApiResponse(description="Revoked"), **errors(401, 404)},
    )
    def delete(self, request: Request, key_id: int) -> Response:
        services.api_key_revoke(user=_user(request), key_id=key_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------------------------------------------------------
# Admin: users
# ---------------------------------------------------------------------------------------------------------------
class AdminUserListView(generics.GenericAPIView[Any]):
    permission_classes = (IsAdmin,)
    queryset = User.objects.none()  # the schema's model; requests use selectors.users_list
    serializer_class = UserSerializer
    pagination_class = PageNumberPagination
    filter_backends = ()

    @extend_schema(tags=["admin"], summary="All users", responses={200: UserSerializer(many=True), **errors(401, 403)})
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.users_list())
        return self.get_paginated_response(UserSerializer(page, many=True).data)

    @extend_schema(
        tags=["admin"],
        summary="Create a user",
        request=AdminUserCreateSerializer,
        examples=[
            OpenApiExample(
                "Listener",
                value={"username": "bob", "password": "a long pass phrase", "can_share": True},
                request_only=True,
            )
        ],
        responses={201: UserSerializer, **errors(400, 401, 403, 409)},
    )
    def post(self, request: Request) -> Response:
        serializer = AdminUserCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_create(**serializer.validated_data)
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)


class AdminUserDetailView(APIView):
    permission_classes = (IsAdmin,)

    @extend_schema(tags=["admin"], summary="One user", responses={200: UserSerializer, **errors(401, 403, 404)})
    def get(self, request: Request, user_id: int) -> Response:
        return Response(UserSerializer(selectors.user_get(user_id=user_id)).data)

    @extend_schema(
        tags=["admin"],
        summary="Change a user's profile, roles or active flag",
        request=AdminUserUpdateSerializer,
        responses={200: UserSerializer, **errors(400, 401, 403, 404, 409)},
    )
    def patch(self, request: Request, user_id: int) -> Response:
        user = selectors.user_get(user_id=user_id)
        serializer = AdminUserUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        return Response(UserSerializer(services.user_update(user=user, **serializer.validated_data)).data)

    @extend_schema(
        tags=["admin"],
        summary="Delete a user and everything they own",
        responses={204: OpenApiResponse(description="Deleted"), **errors(401, 403, 404, 409)},
    )
    def delete(self, request: Request, user_id: int) -> Response:
        services.user_delete(user=selectors.user_get(user_id=user_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AdminUserSubsonicPasswordView(APIView):
    permission_classes = (IsAdmin,)

    @extend_schema(
        tags=["admin"],
        summary="Rotate any user's Subsonic app-password and return the new one",
        request=None,
        responses={200: SubsonicPasswordSerializer, **errors(401, 403, 404)},
    )
    def post(self, request: Request, user_id: int) -> Response:
        user = selectors.user_get(user_id=user_id)
        return _secret({"username": user.username, "password": services.subsonic_password_rotate(user=user)})
