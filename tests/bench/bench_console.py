"""The officers' console under the bench's system: the work queue page (``/``) of a Sở officer, its
p50/p95 at rest and while the sustained load runs (ARCHITECTURE §8: p95 ≤ 300 ms)."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import httpx

TARGET_P95_MS = 300.0
ACCOUNT = re.compile(r"^  (?P<user>\S+) / (?P<password>\S+) \((?P<role>\w+), (?P<instance>[\w-]+)\)$")
CONSOLE = re.compile(r"^console\s+(?P<url>http://\S+)\s+\((?P<instance>[\w-]+)(?:, pid (?P<pid>\d+))?\)$")


def signed_in(banner: list[str], username: str = "so.nghean", instance: str = "tinh-40") -> httpx.Client:
    """A client signed in to the console as the demo account the banner printed."""
    url = next(m["url"] for line in banner if (m := CONSOLE.match(line)) and m["instance"] == instance)
    password = next(m["password"] for line in banner if (m := ACCOUNT.match(line)) and m["user"] == username)
    client = httpx.Client(base_url=url, timeout=30)
    page = client.get("/dang-nhap").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, "no CSRF token on the sign-in page"
    signed = client.post("/dang-nhap", data={"csrf_token": token[1], "username": username, "password": password})
    assert signed.status_code in (200, 303) and "kc_session" in client.cookies, signed.text[:300]
    return client


def _summary(ms: list[float]) -> dict[str, Any]:
    ordered = sorted(ms)
    if not ordered:
        return {"requests": 0}
    return {
        "requests": len(ordered),
        "p50_ms": round(ordered[len(ordered) // 2], 1),
        "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 1),
        "max_ms": round(ordered[-1], 1),
    }


def work_queue(client: httpx.Client, requests: int = 100) -> dict[str, Any]:
    times = []
    for _ in range(requests):
        began = time.perf_counter()
        response = client.get("/")
        times.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, response.status_code
    return _summary(times)


class DuringLoad:
    """Loads the work queue page in a thread (one officer, back to back) while the load runs."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.times: list[float] = []
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="console-bench", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            began = time.perf_counter()
            try:
                ok = self.client.get("/").status_code == 200
            except httpx.HTTPError:
                ok = False
            self.times.append((time.perf_counter() - began) * 1000)
            self.errors += 0 if ok else 1
            time.sleep(0.2)

    def __enter__(self) -> DuringLoad:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)

    def result(self) -> dict[str, Any]:
        return _summary(self.times) | {"errors": self.errors}
