"""Admin for users (with their Subsonic roles), API keys and Subsonic credentials.

Secrets never reach a page: the Subsonic credential's ciphertext and the API key's hash are not fields here, and
neither can be created or edited by hand (they come from accounts.services).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpRequest

from accounts.admin_login import ThrottledAdminAuthenticationForm
from accounts.models import ApiKey, SubsonicCredential, User

# The admin's password form counts failures in the same buckets as the API's token login (accounts.login_throttle).
admin.site.login_form = ThrottledAdminAuthenticationForm

_SUBSONIC_FLAGS = (
    "can_stream",
    "can_download",
    "can_edit_playlists",
    "can_share",
    "can_comment",
    "can_request_downloads",
    "max_bitrate",
)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "email", "is_staff", "is_superuser", "is_active", "can_download", "last_login")
    list_filter = ("is_staff", "is_superuser", "is_active", "can_download", "can_share", "can_request_downloads")
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        ("Subsonic roles", {"fields": _SUBSONIC_FLAGS}),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        ("Subsonic roles", {"classes": ("collapse",), "fields": _SUBSONIC_FLAGS}),
    )


class _ReadOnlySecretAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ApiKey)
class ApiKeyAdmin(_ReadOnlySecretAdmin):
    list_display = ("prefix", "name", "user", "created_at", "last_used_at", "revoked_at")
    list_select_related = ("user",)
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix", "user__username")
    fields = ("user", "name", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields


@admin.register(SubsonicCredential)
class SubsonicCredentialAdmin(_ReadOnlySecretAdmin):
    list_display = ("user", "created_at", "rotated_at", "last_used_at")
    list_select_related = ("user",)
    search_fields = ("user__username",)
    fields = ("user", "created_at", "rotated_at", "last_used_at")
    readonly_fields = fields
