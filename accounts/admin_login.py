"""The admin's login form behind the failed-login throttle of `accounts.login_throttle`.

The form charges the attempt before Django checks the password and refunds it on success; the admin site
(mcma.admin_site) answers 429 when `refused_as_throttled` says the form turned a throttled attempt away.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse

from accounts.login_throttle import LoginThrottledError, login_attempt_charge, login_attempt_refund

THROTTLED = "throttled"


class ThrottledAuthenticationForm(AuthenticationForm):
    """Any active user may sign in to the management UI (not only staff), within the login throttle."""

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


def refused_as_throttled(response: HttpResponseBase) -> bool:
    """Whether this login page is the form turning a throttled attempt away."""
    form = (response.context_data or {}).get("form") if isinstance(response, TemplateResponse) else None
    return form is not None and form.has_error(NON_FIELD_ERRORS, THROTTLED)
