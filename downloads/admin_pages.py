"""Admin pages for finding music and following its download: `/admin/search/` and `/admin/downloads/`.

Thin views: the library and the sources are searched by their selectors, downloads requested, cancelled and
retried by `downloads.services` (the same rules as the REST API: dedup, permissions, rate limits). Live progress
comes from htmx polling the rows of the downloads table every few seconds while a job on the page is active:
polling keeps one short request per interval, where server-sent events would hold one of the web server's few
threads per open page for as long as it stays open.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from downloads import selectors, services
from downloads.models import JobKind, JobState
from library import selectors as library_selectors
from mcma.admin_pages import admin_page, page_user
from mcma.errors import ApplicationError
from sources.base import ResultKind

SEARCH_QUERY_MAX_LENGTH = 200
LIBRARY_HITS = 10
EXTERNAL_HITS = 20
JOBS_PER_PAGE = 50
POLL_SECONDS = 2
JOB_ACTIONS = {"cancel": services.download_job_cancel, "retry": services.download_job_retry}


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


# -- Search --------------------------------------------------------------------------------------------------------
def search(request: HttpRequest) -> TemplateResponse:
    user = page_user(request)
    query = request.GET.get("q", "").strip()
    kind_value = request.GET.get("kind", "")
    kind = ResultKind(kind_value) if kind_value in set(ResultKind) else None
    context: dict[str, Any] = {"q": query, "kind": kind.value if kind else "", "kinds": list(ResultKind)}
    if not query:
        if "q" in request.GET:
            context["problem"] = "Type what you are looking for: an artist, an album, a song."
    elif len(query) > SEARCH_QUERY_MAX_LENGTH:
        context["problem"] = f"A search is at most {SEARCH_QUERY_MAX_LENGTH} characters; this one has {len(query)}."
    else:
        context["library"] = library_selectors.catalog_search(user=user, query=query, limit=LIBRARY_HITS)
        if selectors.user_may_request_downloads(user=user):
            context["external"] = selectors.external_search(query=query, kind=kind, limit=EXTERNAL_HITS)
        else:
            context["downloads_not_allowed"] = True
    return admin_page(request, "admin/downloads/search.html", "Search", context)


@require_POST
def search_download(request: HttpRequest) -> HttpResponseBase:
    """One click on Download: enqueue, then say what happened (in place for htmx, as a message otherwise)."""
    user = page_user(request)
    kind = request.POST.get("kind", "")
    try:
        result = services.download_request(
            user=user,
            source=request.POST.get("source", ""),
            external_id=request.POST.get("external_id", ""),
            kind=kind,
        )
    except ApplicationError as exc:
        level, text, job = messages.ERROR, exc.message, None
    else:
        job = result.job
        if result.track is not None:
            level, text = messages.INFO, "Already in your library."
        elif result.created:
            level, text = messages.SUCCESS, "Queued for download."
        else:
            level, text = messages.INFO, "Already queued."
    if _is_htmx(request):
        return TemplateResponse(
            request,
            "admin/downloads/_download_status.html",
            {"level": messages.DEFAULT_TAGS[level], "text": text, "job": job, "kind": kind},
        )
    messages.add_message(request, level, text)
    back = reverse("admin:search") + "?" + urlencode({"q": request.POST.get("q", "")})
    return redirect(back)


# -- Downloads -----------------------------------------------------------------------------------------------------
def downloads(request: HttpRequest) -> TemplateResponse:
    """The user's downloads (an admin's: everyone's), newest first, albums and playlists with their tracks."""
    user = page_user(request)
    state = request.GET.get("state", "")
    if state not in JobState.values:
        state = ""
    jobs = selectors.download_jobs_with_children(
        selectors.download_jobs_visible(user=user, state=state or None, top_level=True)
    )
    page = Paginator(jobs, JOBS_PER_PAGE).get_page(request.GET.get("page"))
    counts = selectors.download_jobs_state_counts(user=user)
    jobs_on_page = list(page.object_list)
    context = {
        "page": page,
        "jobs": jobs_on_page,
        "live": any(job.is_active for job in jobs_on_page),
        "state": state,
        "states": [(value, label, counts[value]) for value, label in JobState.choices],
        "poll_seconds": POLL_SECONDS,
        "song": JobKind.SONG,
    }
    if _is_htmx(request):
        return TemplateResponse(request, "admin/downloads/_job_rows.html", context)
    return admin_page(request, "admin/downloads/downloads.html", "Downloads", context)


def _back_to_downloads(request: HttpRequest) -> HttpResponse:
    """Back to the page the button was on (only ever a page of this site)."""
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}) or not target.startswith("/"):
        target = reverse("admin:downloads")
    return redirect(target)


@require_POST
def job_action(request: HttpRequest, job_id: Any, action: str) -> HttpResponse:
    user = page_user(request)
    perform = JOB_ACTIONS.get(action)
    if perform is None:
        messages.error(request, f"Unknown action {action[:40]!r}.")
        return _back_to_downloads(request)
    try:
        job = selectors.download_job_get(user=user, job_id=job_id)
        perform(job=job, actor=user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        done = "Cancelled" if action == "cancel" else "Retrying"
        messages.success(request, f"{done}: {job.title or job.external_id}.")
    return _back_to_downloads(request)


@require_POST
def retry_failed(request: HttpRequest) -> HttpResponse:
    try:
        count = services.download_jobs_retry_failed(actor=page_user(request))
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Retrying {count} failed download(s)." if count else "No failed downloads to retry.")
    return _back_to_downloads(request)
