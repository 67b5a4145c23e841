"""`/admin/login/` behind the failed-login throttle of `accounts.login_throttle`.

The admin site keeps its own login page; its form charges the attempt before Django checks the password and
refunds it on success, and `admin_login` answers 429 when the form refused a throttled attempt.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from accounts.login_throttle import LoginThrottledError, login_attempt_charge, login_attempt_refund

THROTTLED = "throttled"


class ThrottledAdminAuthenticationForm(AdminAuthenticationForm):
    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        if username is None or not self.cleaned_data.get("password") or self.request is None:
            return super().clean()  # Django reports the missing field; no password is checked
        try:
            login_attempt_charge(request=self.request, username=username)
        except LoginThrottledError as exc:
            minutes = max(1, round(exc.wait_seconds / 60))
            raise ValidationError(
                "Too many failed login attempts. Try again in about %(minutes)d minute(s).",
                code=THROTTLED,
                params={"minutes": minutes},
            ) from exc
        cleaned = super().clean()
        login_attempt_refund(request=self.request, username=username)
        return cleaned


def admin_login(request: HttpRequest) -> HttpResponse:
    response = admin.site.login(request)
    form = (response.context_data or {}).get("form") if isinstance(response, TemplateResponse) else None
    if form is not None and form.has_error(NON_FIELD_ERRORS, THROTTLED):
        response.status_code = 429
    return response


urlpatterns: list[URLPattern] = [path("", admin_login, name="admin-login")]
