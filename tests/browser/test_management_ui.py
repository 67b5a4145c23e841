"""The management UI in a real browser: Playwright driving the system Chromium against a live server.

Screenshots go to a temporary folder (MCMA_SCREENSHOT_DIR, else one under the system temp dir) that CI can keep
as artifacts; they are never written into the checkout.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import requests
from playwright.sync_api import Browser, Page, Request, Response, expect, sync_playwright
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import LastFmLink, User
from downloads import services
from downloads.models import DownloadJob, JobState
from library.models import Track
from tests.factories.accounts import AdminFactory, UserFactory
from tests.factories.library import TrackFactory
from tests.fakes.fixtures import FakeYouTube
from tests.fakes.lastfm_server import FakeLastFm

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="needs the system Chromium (apt-get install chromium)"),
]

PASSWORD = "a long admin pass phrase 31"
AUDIO_DURATION = """() => new Promise((resolve, reject) => {
  const audio = document.getElementById("player");
  audio.addEventListener("error", () => reject(new Error("audio error " + audio.error.code)), {once: true});
  if (audio.readyState >= 1) { resolve(audio.duration); return; }
  audio.addEventListener("loadedmetadata", () => resolve(audio.duration), {once: true});
})"""
AUDIO_SEEK = """(seconds) => new Promise((resolve) => {
  const audio = document.getElementById("player");
  audio.addEventListener("seeked", () => resolve(audio.currentTime), {once: true});
  audio.currentTime = seconds;
})"""


@pytest.fixture(scope="module")
def screenshot_dir() -> Path:
    folder = Path(os.environ.get("MCMA_SCREENSHOT_DIR") or tempfile.mkdtemp(prefix="mcma-screens-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"screenshots: {folder}")
    return folder


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Playwright's sync API keeps an event loop in this thread; the ORM calls this test makes between browser
    # steps are still plain synchronous calls, which is the case Django's escape hatch is for.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        chromium = playwright.chromium.launch(executable_path=shutil.which("chromium"), headless=True)
        yield chromium
        chromium.close()


class FailedAssets:
    """Every static asset or page request that failed or answered an error while the page was open."""

    def __init__(self, page: Page) -> None:
        self.failures: list[str] = []
        page.on("requestfailed", self._failed)
        page.on("response", self._answered)

    def _failed(self, request: Request) -> None:
        self.failures.append(f"{request.url}: {request.failure}")

    def _answered(self, response: Response) -> None:
        if response.status >= 400:
            self.failures.append(f"{response.url}: HTTP {response.status}")


@pytest.fixture
def page(browser: Browser, live_server: Any) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, base_url=live_server.url)
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    context.close()


def _log_in(page: Page, username: str) -> None:
    page.goto("/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#dashboard")).to_be_visible()


@pytest.mark.django_db(transaction=True)
def test_search_download_and_follow_the_job_in_the_browser(
    page: Page, fake_youtube: FakeYouTube, screenshot_dir: Path
) -> None:
    AdminFactory(username="boss", password=PASSWORD)
    TrackFactory.create_batch(3, duration_ms=60_000)
    assets = FailedAssets(page)

    _log_in(page, "boss")
    expect(page.locator("#figures")).to_contain_text("3 tracks")
    page.screenshot(path=str(screenshot_dir / "dashboard.png"), full_page=True)

    page.click("nav.mcma-nav >> text=Search")
    page.fill("input[type=search][name=q]", "port zero")
    page.press("input[type=search][name=q]", "Enter")
    hit = page.locator('li.external-hit[data-external-id="vidAAAAAAA2"]')
    expect(hit).to_contain_text("Port Zero")
    expect(hit.locator(".mcma-badge.explicit")).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "search.png"), full_page=True)

    hit.locator("button.download-button").click()
    expect(hit.locator(".download-cell")).to_contain_text("Queued for download.")
    job = DownloadJob.objects.get(external_id="vidAAAAAAA2")

    page.click("nav.mcma-nav >> text=Downloads")
    row = page.locator(f'tr.job-row[data-job-id="{job.pk}"]')
    expect(row).to_have_attribute("data-state", "queued")
    # What a worker does with the queued job; the open page follows it without a reload.
    assert services.download_job_run(job_id=str(job.pk)).status == "succeeded"
    expect(row).to_have_attribute("data-state", "succeeded", timeout=20_000)
    expect(row).to_contain_text("open track")
    page.screenshot(path=str(screenshot_dir / "downloads.png"), full_page=True)
    assert Track.objects.filter(source="youtube", source_id="vidAAAAAAA2").exists()

    ranged: list[int] = []

    def note_stream(response: Response) -> None:
        if "/stream" in response.url:
            ranged.append(response.status)

    page.on("response", note_stream)
    row.locator("text=open track").click()
    expect(page.locator("#track")).to_contain_text("The Fakes")
    assert page.evaluate(AUDIO_DURATION) > 1.0
    assert abs(page.evaluate(AUDIO_SEEK, 1.0) - 1.0) < 0.25
    assert page.evaluate("document.getElementById('player').play().then(() => true)")
    page.screenshot(path=str(screenshot_dir / "track.png"), full_page=True)
    assert 206 in ranged  # the element fetched byte ranges through the app, with the admin's session

    assert assets.failures == []


@pytest.mark.django_db(transaction=True)
def test_the_pages_fit_a_phone(browser: Browser, live_server: Any, screenshot_dir: Path) -> None:
    AdminFactory(username="boss", password=PASSWORD)
    DownloadJob.objects.create(source="youtube", external_id="vidAAAAAAA9", title="Queued", state=JobState.QUEUED)
    context = browser.new_context(viewport={"width": 390, "height": 844}, base_url=live_server.url, is_mobile=True)
    phone = context.new_page()
    assets = FailedAssets(phone)
    try:
        _log_in(phone, "boss")
        for path, name in (("/admin/", "phone-dashboard"), ("/admin/downloads/", "phone-downloads")):
            phone.goto(path)
            width = phone.evaluate("document.documentElement.scrollWidth")
            phone.screenshot(path=str(screenshot_dir / f"{name}.png"), full_page=True)
            assert width <= 390 + 1, f"{path} scrolls sideways on a phone ({width}px)"
    finally:
        context.close()
    assert assets.failures == []


@pytest.mark.django_db(transaction=True)
def test_a_listener_sees_only_their_own_downloads(page: Page, screenshot_dir: Path) -> None:
    listener = cast(User, UserFactory(username="listener", password=PASSWORD))
    other = cast(User, UserFactory(username="other"))
    DownloadJob.objects.create(source="youtube", external_id="vidMINE00001", title="Mine", requested_by=listener)
    DownloadJob.objects.create(source="youtube", external_id="vidTHEIRS001", title="Theirs", requested_by=other)
    assets = FailedAssets(page)

    _log_in(page, "listener")
    page.click("nav.mcma-nav >> text=Downloads")

    expect(page.locator("tr.job-row")).to_have_count(1)
    expect(page.locator("tr.job-row")).to_contain_text("Mine")
    expect(page.locator("#retry-all-failed")).to_have_count(0)
    page.screenshot(path=str(screenshot_dir / "listener-downloads.png"), full_page=True)
    assert assets.failures == []


@pytest.mark.django_db(transaction=True)
def test_connecting_to_last_fm_is_a_round_trip_in_the_browser(
    page: Page, live_server: Any, fake_lastfm: FakeLastFm, screenshot_dir: Path
) -> None:
    """The profile's API gives Last.fm's page; the browser opens it, Last.fm (the fake, where the user allows at
    once) sends it back to this server's callback, which says the account is connected."""
    user = cast(User, UserFactory(username="listener"))
    access = RefreshToken.for_user(user).access_token
    answer = requests.post(
        f"{live_server.url}/api/v1/users/me/lastfm", headers={"Authorization": f"Bearer {access}"}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    assets = FailedAssets(page)

    page.goto(answer.json()["authorize_url"])

    expect(page.locator("main")).to_contain_text("Connected as alice-fm")
    assert page.url.startswith(f"{live_server.url}/api/v1/lastfm/callback?")
    page.screenshot(path=str(screenshot_dir / "lastfm-connected.png"), full_page=True)
    assert LastFmLink.objects.get(user=user).lastfm_username == "alice-fm"
    assert assets.failures == []
