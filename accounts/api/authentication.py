"""API-key authentication for scripts: `Authorization: ApiKey <key>` (or the `X-API-Key` header)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from accounts.models import User
from accounts.selectors import user_by_api_key
from accounts.services import api_key_touch

KEYWORD = "ApiKey"


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[User, None] | None:
        raw = self._raw_key(request)
        if raw is None:
            return None
        user = user_by_api_key(raw_key=raw)
        if user is None:
            raise AuthenticationFailed("Invalid, revoked or disabled API key.", code="invalid_api_key")
        api_key_touch(raw_key=raw)
        return user, None

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD

    @staticmethod
    def _raw_key(request: Request) -> str | None:
        parts = get_authorization_header(request).split()
        if parts and parts[0].lower() == KEYWORD.lower().encode():
            if len(parts) != 2:
                raise AuthenticationFailed("Malformed ApiKey header: expected 'ApiKey <key>'.")
            try:
                return parts[1].decode("ascii")
            except UnicodeDecodeError as exc:
                raise AuthenticationFailed("Malformed API key.") from exc
        header = request.META.get("HTTP_X_API_KEY")
        return header.strip() if header else None


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.api.authentication.ApiKeyAuthentication"
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "X-API-Key"}
