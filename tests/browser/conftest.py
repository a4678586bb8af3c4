"""The officers' console in a real browser: ``make run``'s whole system (the ministry and two provinces,
the demo scenario, a console per instance) on free loopback ports, and Debian's Chromium driven by
Playwright (``executable_path``: Playwright's own browser download does not work here).

Without Chromium the tests are skipped with the reason (``apt-get install chromium``) — except in CI
(``CI=true``), where a missing browser is a failure. Every request to a host other than loopback is
blocked: the console must work offline.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from kc_runtime.keys import key_file, load_signer
from kc_runtime.web.auth import issue_token

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("KC_CHROMIUM", "/usr/bin/chromium"))
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
ACCOUNT = re.compile(r"^  (?P<user>\S+) / (?P<password>\S+) \((?P<role>\w+), (?P<instance>[\w-]+)\)$")
CONSOLE = re.compile(r"^console\s+(?P<url>http://\S+)\s+\((?P<instance>[\w-]+)(?:, pid (?P<pid>\d+))?\)$")


def browser_missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is not installed (apt-get install chromium); the console's browser tests need it"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (make install)"
    return None


def require_browser() -> None:
    missing = browser_missing()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests cannot run in CI: {missing}")
        pytest.skip(missing)


@dataclass
class System:
    var: Path
    output: list[str]
    consoles: dict[str, str] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)
    services: dict[str, str] = field(default_factory=dict)

    def token(self, role: str, instance: str, unit: str | None = None) -> str:
        signer = load_signer(key_file(self.var / "keys", instance), instance)
        return issue_token(signer, sub=f"test.{role}", role=role, scope=instance, name=f"Kiểm thử {role}", unit=unit)

    def api(self, instance: str, service: str, role: str = "so_ct") -> httpx.Client:
        """A client of a service as a role would call it (to check what the console did, or did not)."""
        return httpx.Client(
            base_url=self.services[f"{instance}/{service}"],
            headers={"Authorization": f"Bearer {self.token(role, instance)}"},
            timeout=30,
        )

    def age_sessions(self, instance: str, username: str, seconds: float) -> None:
        """Move the account's sessions back in time (as if the officer left the page open)."""
        with sqlite3.connect(self.var / instance / "console.sqlite") as db:
            db.execute(
                "UPDATE sessions SET last_seen = last_seen - ?, created = created - ? WHERE username = ?",
                (seconds, seconds, username),
            )


@pytest.fixture(scope="session")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    require_browser()
    var = tmp_path_factory.mktemp("console") / "var"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kc_ops.supervisor",
            "deploy/local/system.toml",
            "--var-dir",
            str(var),
            "--auto-ports",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env=os.environ | {"PYTHONUNBUFFERED": "1", "DEMO": "1"},
    )
    lines: list[str] = []
    assert proc.stdout is not None
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip())
            if line.startswith("Ctrl-C to stop."):
                break
        assert lines and lines[-1] == "Ctrl-C to stop.", "\n".join(lines)
        found = System(var=var, output=lines)
        for line in lines:
            if m := CONSOLE.match(line):
                found.consoles[m["instance"]] = m["url"]
            elif m := ACCOUNT.match(line):
                found.passwords[m["user"]] = m["password"]
        found.services = json.loads((var / "run.json").read_text())["services"]
        yield found
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()


@pytest.fixture(scope="module")
def browser(system: System) -> Iterator[Any]:
    # Per module, not per session: Playwright's sync API keeps an event loop running in the main
    # thread while it is open, and every later test that calls asyncio.run() would fail.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"],
        )
        try:
            yield launched
        finally:
            launched.close()


class Officer:
    """One signed-in person in their own browser context (cookies of their own)."""

    def __init__(self, browser: Any, system: System, username: str, instance: str) -> None:
        self.system = system
        self.username = username
        self.base = system.consoles[instance]
        self.context = browser.new_context(
            locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh", viewport={"width": 1280, "height": 900}
        )
        self.context.route("**/*", _only_loopback)
        self.page = self.context.new_page()
        self.page.set_default_timeout(60_000)  # a loaded 2-core machine: a page of the console can take 20 s
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def go(self, path: str) -> Any:
        return self.page.goto(self.base + path)

    def sign_in(self, password: str | None = None) -> Officer:
        self.go("/dang-nhap")
        self.page.get_by_label("Tên đăng nhập").fill(self.username)
        self.page.get_by_label("Mật khẩu").fill(password or self.system.passwords[self.username])
        self.page.get_by_role("button", name="Đăng nhập").click()
        self.page.wait_for_load_state()
        return self

    def main_text(self) -> str:
        return str(self.page.locator("main").inner_text())

    def close(self) -> None:
        self.context.close()


def _only_loopback(route: Any) -> None:
    url = route.request.url
    if url.startswith(("data:", "blob:")) or (urlsplit(url).hostname or "") in LOOPBACK:
        route.continue_()
    else:
        route.abort("internetdisconnected")


def axe_check(page: Any, what: str) -> None:
    """axe-core (vendored) on the page as it is: no serious or critical WCAG 2.0/2.1 A/AA violation.
    Injected through the DevTools protocol (the console's CSP allows no inline script)."""
    page.evaluate(AXE.read_text("utf-8"))
    result = page.evaluate(
        """async () => {
            const tags = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
            const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
            return r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ')),
            }));
        }"""
    )
    bad = [v for v in result if v["impact"] in ("serious", "critical")]
    assert not bad, f"{what}: {bad}"


@pytest.fixture
def officer(browser: Any, system: System) -> Iterator[Any]:
    opened: list[Officer] = []

    def open_as(username: str, instance: str, *, sign_in: bool = True) -> Officer:
        person = Officer(browser, system, username, instance)
        opened.append(person)
        return person.sign_in() if sign_in else person

    yield open_as
    for person in opened:
        assert not person.errors, (person.username, person.errors)
        person.close()


@pytest.fixture
def axe() -> Any:
    return axe_check
