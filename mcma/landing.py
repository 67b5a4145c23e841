"""The page at `/`: what this server is, the address a player should use, and how to log a player in.

A signed-in user (the admin's session) can reveal or replace their Subsonic app-password here, which is what a
player needs besides the username: it is not the login password.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

import mcma
from accounts import services as account_services
from accounts.errors import SubsonicPasswordUnavailableError
from mcma.network import listen_address, server_urls

PASSWORD_ACTIONS = ("reveal", "rotate")


@require_http_methods(["GET", "HEAD", "POST"])
def landing(request: HttpRequest) -> HttpResponse:
    app_password = problem = ""
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect(f"/admin/login/?next={request.path}")
        action = request.POST.get("action", "")
        if action not in PASSWORD_ACTIONS:
            return HttpResponse("Unknown action.", status=400, content_type="text/plain; charset=utf-8")
        user = request.user
        try:
            if action == "rotate":
                app_password = account_services.subsonic_password_rotate(user=user)
            else:
                app_password = account_services.subsonic_password_reveal(user=user)
        except SubsonicPasswordUnavailableError as exc:
            problem = exc.message
    bind, port = listen_address()
    used = request.build_absolute_uri("/").rstrip("/")
    others = [url for url in server_urls(bind, port) if url != used]
    response = render(
        request,
        "mcma/landing.html",
        {
            "version": mcma.__version__,
            "server_url": used,
            "other_urls": others,
            "app_password": app_password,
            "problem": problem,
        },
    )
    # The page may carry an app-password: never cache it.
    response["Cache-Control"] = "no-store"
    return response
