"""What every page of the management UI shares, whichever app it belongs to (see mcma.admin_site)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse

from accounts.models import User


def page_user(request: HttpRequest) -> User:
    """The signed-in user of a management page (the site's admin_view lets no one else through)."""
    assert isinstance(request.user, User)
    return request.user


def admin_page(request: HttpRequest, template: str, title: str, context: dict[str, Any]) -> TemplateResponse:
    """A page in the admin's frame: its navigation, header and messages, with this title and context."""
    return TemplateResponse(request, template, {**admin.site.each_context(request), "title": title, **context})
