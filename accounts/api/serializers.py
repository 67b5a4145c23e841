"""Request and response shapes of the accounts API. Write serializers list their fields explicitly, so no request
can set a field it wasn't meant to (is_staff, password hashes, owners)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.serializers import TokenRefreshSerializer

from accounts import selectors
from accounts.models import ApiKey, TranscodeFormat, User
from accounts.services import USER_FLAGS

FLAG_FIELDS = tuple(sorted(USER_FLAGS))


# ---------------------------------------------------------------------------------------------------------------
# Tokens
# ---------------------------------------------------------------------------------------------------------------
class LoginSerializer(serializers.Serializer[Any]):
    username = serializers.CharField(max_length=150, trim_whitespace=False)
    password = serializers.CharField(max_length=1024, trim_whitespace=False, style={"input_type": "password"})


class TokenPairSerializer(serializers.Serializer[Any]):
    access = serializers.CharField()
    refresh = serializers.CharField()


class RefreshSerializer(serializers.Serializer[Any]):
    refresh = serializers.CharField(max_length=4096)


class SafeTokenRefreshSerializer(TokenRefreshSerializer):
    """simplejwt's refresh, except that a token of a deleted user is a 401, not an unhandled DoesNotExist."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        try:
            return super().validate(attrs)
        except get_user_model().DoesNotExist as exc:
            raise AuthenticationFailed("No active account found for the given token.", "no_active_account") from exc


# ---------------------------------------------------------------------------------------------------------------
# Users
# ---------------------------------------------------------------------------------------------------------------
class UserSerializer(serializers.ModelSerializer[User]):
    is_admin = serializers.BooleanField(read_only=True)

    class Meta:
        model = User
        fields = (
            "id",
            "username",
            "email",
            "first_name",
            "last_name",
            "is_admin",
            "is_active",
            *FLAG_FIELDS,
            "max_bitrate",
            "default_format",
            "subsonic_external_search",
            "date_joined",
            "last_login",
        )
        read_only_fields = fields


class ListenBrainzStatusSerializer(serializers.Serializer[Any]):
    connected = serializers.BooleanField(help_text="A token is stored.")
    username = serializers.CharField(allow_null=True, help_text="The ListenBrainz user the token belongs to.")
    token_valid = serializers.BooleanField(
        help_text="False once ListenBrainz refused the token: plays wait until a new token is set."
    )


class LastFmStatusSerializer(serializers.Serializer[Any]):
    available = serializers.BooleanField(help_text="The server has a Last.fm API account, so users can connect.")
    connected = serializers.BooleanField(help_text="A session is stored.")
    username = serializers.CharField(allow_null=True, help_text="The Last.fm user who authorised this server.")
    session_valid = serializers.BooleanField(
        help_text="False once Last.fm refused the session (access revoked): plays wait until you connect again."
    )


class LastFmAuthorizeSerializer(serializers.Serializer[Any]):
    authorize_url = serializers.CharField(
        help_text="Open this in a browser: Last.fm asks you to allow this server, then comes back here."
    )


class MeSerializer(UserSerializer):
    """The current user, with what only they may see."""

    listenbrainz = serializers.SerializerMethodField()
    lastfm = serializers.SerializerMethodField()

    class Meta(UserSerializer.Meta):
        fields = (*UserSerializer.Meta.fields, "listenbrainz", "lastfm")
        read_only_fields = fields

    @extend_schema_field(ListenBrainzStatusSerializer)
    def get_listenbrainz(self, user: User) -> dict[str, object]:
        return selectors.listenbrainz_status(user=user)

    @extend_schema_field(LastFmStatusSerializer)
    def get_lastfm(self, user: User) -> dict[str, object]:
        return selectors.lastfm_status(user=user)


class MeUpdateSerializer(serializers.Serializer[Any]):
    listenbrainz_token = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=200,
        write_only=True,
        help_text="Your ListenBrainz user token (checked with ListenBrainz); empty or null disconnects.",
    )
    email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
    first_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    last_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    subsonic_external_search = serializers.BooleanField(
        required=False, help_text="Show YouTube Music hits in Subsonic searches (when the server enables them)."
    )


class PasswordChangeSerializer(serializers.Serializer[Any]):
    old_password = serializers.CharField(max_length=1024, trim_whitespace=False)
    new_password = serializers.CharField(max_length=1024, trim_whitespace=False)


class _FlagsMixin(serializers.Serializer[Any]):
    can_download = serializers.BooleanField(required=False)
    can_stream = serializers.BooleanField(required=False)
    can_edit_playlists = serializers.BooleanField(required=False)
    can_share = serializers.BooleanField(required=False)
    can_comment = serializers.BooleanField(required=False)
    can_request_downloads = serializers.BooleanField(required=False)


class AdminUserCreateSerializer(_FlagsMixin):
    username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150)
    password = serializers.CharField(max_length=1024, trim_whitespace=False, write_only=True)
    email = serializers.EmailField(required=False, allow_blank=True, max_length=254, default="")
    is_admin = serializers.BooleanField(required=False, default=False)


class AdminUserUpdateSerializer(_FlagsMixin, MeUpdateSerializer):
    is_active = serializers.BooleanField(required=False)
    is_admin = serializers.BooleanField(required=False)
    max_bitrate = serializers.IntegerField(required=False, min_value=0, max_value=100_000)
    default_format = serializers.ChoiceField(
        choices=TranscodeFormat.choices,
        allow_blank=True,
        required=False,
        help_text="What the user's players get when they name no format; blank = the original file.",
    )


# ---------------------------------------------------------------------------------------------------------------
# Secrets
# ---------------------------------------------------------------------------------------------------------------
class SubsonicPasswordSerializer(serializers.Serializer[Any]):
    username = serializers.CharField()
    password = serializers.CharField(help_text="The Subsonic app-password (use it in Subsonic clients).")


class ApiKeySerializer(serializers.ModelSerializer[ApiKey]):
    class Meta:
        model = ApiKey
        fields: tuple[str, ...] = ("id", "name", "prefix", "created_at", "last_used_at", "revoked_at")
        read_only_fields: tuple[str, ...] = fields


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(read_only=True, help_text="The raw key; shown only in this response.")

    class Meta(ApiKeySerializer.Meta):
        fields = (*ApiKeySerializer.Meta.fields, "key")
        read_only_fields = fields


class ApiKeyCreateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100, allow_blank=True, required=False, default="")
