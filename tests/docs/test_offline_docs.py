"""``/docs`` and ``/redoc`` work on a machine without internet, on every service (issue 18).

FastAPI's default pages load Swagger UI and ReDoc from a CDN and are blank offline. Every service
installs :func:`kc_runtime.web.apidocs.install_offline_docs`; here, for each service's real app:

* every ``<script src>`` and ``<link href>`` of both pages is a path on the same app and answers 200;
* in Debian's Chromium (``/usr/bin/chromium``, driven by Playwright) with every request to a host
  other than loopback blocked, Swagger UI renders the service's operations and ReDoc its menu.
  Without Chromium the browser test is skipped with the reason — except in CI (``CI=true``), where a
  missing browser fails.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from kc_appraisal.main import create_app as appraisal_app
from kc_notifications.main import create_app as notifications_app
from kc_notifications.settings import NotificationSettings
from kc_planning.main import create_app as planning_app
from kc_registry.main import create_app as registry_app
from kc_runtime.settings import Settings
from kc_testing.fixtures import served

CHROMIUM = Path(os.environ.get("KC_CHROMIUM", "/usr/bin/chromium"))
LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}


def _settings(tmp_path: Path, service: str, instance: str) -> Settings:
    # no lifespan is started: nothing connects to NATS; the store is a SQLite file in tmp_path
    return Settings(instance=instance, service=service, var_dir=tmp_path / "var", nats_url="nats://127.0.0.1:1")


SERVICES: dict[str, Callable[[Path], FastAPI]] = {
    "registry": lambda tmp: registry_app(_settings(tmp, "registry", "tinh-40")),
    "appraisal": lambda tmp: appraisal_app(_settings(tmp, "appraisal", "tinh-40")),
    "planning": lambda tmp: planning_app(_settings(tmp, "planning", "bo")),
    "notifications": lambda tmp: notifications_app(
        NotificationSettings(**_settings(tmp, "notifications", "tinh-40").model_dump())
    ),
}


class _Assets(HTMLParser):
    """The URLs a page makes the browser fetch: scripts, stylesheets, icons, images."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("script", "img") and values.get("src"):
            self.urls.append(str(values["src"]))
        if tag == "link" and values.get("href"):
            self.urls.append(str(values["href"]))


def _assets_of(html: str) -> list[str]:
    parser = _Assets()
    parser.feed(html)
    return parser.urls


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_docs_and_redoc_load_every_asset_from_the_same_app(service: str, tmp_path: Path) -> None:
    client = TestClient(SERVICES[service](tmp_path))  # not entered: no lifespan, no bus
    for page in ("/docs", "/redoc"):
        response = client.get(page)
        assert response.status_code == 200, (page, response.text[:200])
        html = response.text
        assert "cdn" not in html.lower() and "fonts.googleapis" not in html, html
        urls = _assets_of(html)
        assert any(u.endswith(".js") for u in urls), (page, urls)
        for url in urls:
            assert url.startswith("/") and not url.startswith("//"), f"{page} loads {url} from elsewhere"
            asset = client.get(url)
            assert asset.status_code == 200, (page, url, asset.status_code)
            assert len(asset.content) > 100, (page, url)
    assert client.get("/openapi.json").json()["paths"]


def test_the_vendored_assets_carry_their_licences() -> None:
    from kc_runtime.web.apidocs import assets_dir

    root = assets_dir()
    for name in ("swagger-ui/LICENSE", "swagger-ui/NOTICE", "redoc/LICENSE", "README.md"):
        assert (root / name).stat().st_size > 0, name
    assert "Apache License" in (root / "swagger-ui/LICENSE").read_text()
    assert "MIT" in (root / "redoc/LICENSE").read_text()
    # the one change made to the published bundle: Redocly's logo no longer comes from their CDN
    assert "cdn.redoc.ly" not in (root / "redoc/redoc.standalone.js").read_text("utf-8")


# -- in a real browser, offline ---------------------------------------------------------------------------


def _browser_or_skip() -> None:
    missing = None
    if not CHROMIUM.exists():
        missing = f"{CHROMIUM} is not installed (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = missing or "the playwright package is not installed (make install)"
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser test cannot run in CI: {missing}")
        pytest.skip(missing)


# five services, each its Swagger UI and ReDoc in Chromium: ~40 s idle, past 120 s at load 18
@pytest.mark.timeout(600)
def test_docs_render_in_chromium_with_the_network_blocked(tmp_path: Path) -> None:
    _browser_or_skip()
    from playwright.sync_api import Route, sync_playwright

    blocked: list[str] = []

    def only_loopback(route: Route) -> None:
        host = urlsplit(route.request.url).hostname or ""
        if route.request.url.startswith(("data:", "blob:")) or host in LOOPBACK:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort("internetdisconnected")

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            # and no name resolves but loopback, should a request slip past the route below
            args=["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"],
        )
        try:
            for service in sorted(SERVICES):
                app = SERVICES[service](tmp_path / service)
                operations = sum(len(ops) for ops in app.openapi()["paths"].values())
                with served(app, name="docs-uvicorn", lifespan="off") as base:
                    context = browser.new_context()
                    context.route("**/*", only_loopback)
                    page = context.new_page()
                    errors: list[str] = []
                    page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))

                    page.goto(f"{base}/docs")
                    page.wait_for_selector(".opblock", timeout=60_000)
                    assert page.evaluate("typeof SwaggerUIBundle") == "function", service
                    shown = page.locator(".opblock").count()
                    assert shown == operations, (service, shown, operations)
                    assert page.locator(".info .title").inner_text().startswith(app.title), service

                    page.goto(f"{base}/redoc")
                    page.wait_for_selector("[role=menuitem]", timeout=60_000)
                    assert page.evaluate("typeof Redoc") == "object", service
                    assert page.locator("[role=menuitem]").count() >= 1, service
                    assert not errors, (service, errors)
                    context.close()
        finally:
            browser.close()
    assert not blocked, f"the docs pages tried to reach the internet: {blocked}"
