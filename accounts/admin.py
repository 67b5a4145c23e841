"""Admin for users (with their Subsonic roles), API keys and Subsonic credentials.

Secrets never reach a page: the Subsonic credential's ciphertext and the API key's hash are not fields here, and
neither can be created or edited by hand (they come from accounts.services).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseBase, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from accounts import services
from accounts.models import ApiKey, LastFmLink, ListenBrainzLink, SubsonicCredential, User
from mcma.errors import ApplicationError

_SUBSONIC_FLAGS = (
    "can_stream",
    "can_download",
    "can_edit_playlists",
    "can_share",
    "can_comment",
    "can_request_downloads",
    "download_daily_limit",
    "max_bitrate",
    "default_format",
    "subsonic_external_search",
)


class ApiKeyInline(admin.TabularInline):
    """A user's API keys by prefix: the key itself is shown once, to its owner, when it is made."""

    model = ApiKey
    fields = ("prefix", "name", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


APP_PASSWORD_ACTIONS = {"reveal": services.subsonic_password_reveal, "rotate": services.subsonic_password_rotate}


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = (
        "username",
        "email",
        "is_staff",
        "is_active",
        "can_download",
        "can_request_downloads",
        "max_bitrate",
        "last_login",
    )
    list_filter = ("is_staff", "is_superuser", "is_active", "can_download", "can_share", "can_request_downloads")
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        ("Subsonic roles", {"fields": _SUBSONIC_FLAGS}),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        ("Subsonic roles", {"classes": ("collapse",), "fields": _SUBSONIC_FLAGS}),
    )
    actions = ("disable_users", "enable_users")
    change_form_template = "admin/accounts/user/change_form.html"

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> list[type[admin.options.InlineModelAdmin]]:
        # A new user has no keys yet; its add form stays the plain username-and-password form.
        return [ApiKeyInline] if obj is not None else []

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<int:user_id>/subsonic-password/<str:action>",
                self.admin_site.admin_view(self.subsonic_password_view),
                name="accounts_user_subsonic_password",
            )
        ]
        return own + super().get_urls()

    def subsonic_password_view(self, request: HttpRequest, user_id: int, action: str) -> HttpResponseBase:
        """Show (or replace and show) a user's app-password on a page of its own: never in a message, which the
        session's cookie would carry."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        user = User.objects.filter(pk=user_id).first()
        perform = APP_PASSWORD_ACTIONS.get(action)
        if user is None or perform is None or not self.has_change_permission(request, user):
            self.message_user(request, "No such user or action.", level=messages.ERROR)
            return HttpResponseRedirect(reverse("admin:accounts_user_changelist"))
        try:
            password = perform(user=user)
        except ApplicationError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)
            return HttpResponseRedirect(reverse("admin:accounts_user_change", args=[user.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Subsonic app-password of {user.username}",
            "subject": user,
            "password": password,
            "rotated": action == "rotate",
        }
        response = TemplateResponse(request, "admin/accounts/user/app_password.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Disable the selected users (their tokens and sessions stop working)")
    def disable_users(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        self._set_active(request, queryset, active=False)

    @admin.action(description="Enable the selected users")
    def enable_users(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        self._set_active(request, queryset, active=True)

    def _set_active(self, request: HttpRequest, queryset: QuerySet[User], *, active: bool) -> None:
        done = 0
        for user in queryset:
            try:
                services.user_update(user=user, is_active=active)
                done += 1
            except ApplicationError as exc:
                self.message_user(request, f"{user.username}: {exc.message}", level=messages.ERROR)
        self.message_user(request, f"{done} user(s) {'enabled' if active else 'disabled'}.")


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


class _ScrobbleLinkAdmin(_ReadOnlySecretAdmin):
    """A user's link to a scrobbling service: the account there, since when, and whether the service refused it."""

    list_select_related = ("user",)
    list_filter = ("rejected_at",)


@admin.register(ListenBrainzLink)
class ListenBrainzLinkAdmin(_ScrobbleLinkAdmin):
    fields = ("user", "listenbrainz_username", "created_at", "rejected_at")
    list_display = readonly_fields = fields
    search_fields = ("user__username", "listenbrainz_username")


@admin.register(LastFmLink)
class LastFmLinkAdmin(_ScrobbleLinkAdmin):
    fields = ("user", "lastfm_username", "created_at", "rejected_at")
    list_display = readonly_fields = fields
    search_fields = ("user__username", "lastfm_username")
