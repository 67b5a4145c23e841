"""/rest/<method> and /rest/<method>.view, plus a catch-all so that every path under /rest answers a Subsonic
document (an HTML 404 page breaks players)."""

from django.urls import URLPattern, URLResolver, re_path

from subsonic import dispatch

app_name = "subsonic"

urlpatterns: list[URLPattern | URLResolver] = [
    re_path(r"^(?P<method>[A-Za-z0-9_]+?)(?:\.view)?/?$", dispatch.endpoint, name="method"),
    re_path(r"^(?P<method>.*)$", dispatch.endpoint, name="unknown"),
]
