"""Issue 14 item 6: a request could stall a service.

The attacks, on real processes (services under uvicorn on a real loopback socket, this test's own
nats-server):

* a 50 MB body sent with ``Transfer-Encoding: chunked`` (no ``Content-Length``): the 1 MiB limit was
  only checked against the header, so the whole body was read and parsed (9 s, +100 MB);
* a 1.6 KB .xlsx whose only row is numbered 2,000,000: openpyxl yields the 1,999,999 empty rows in
  between, and the registry built a list of all of them (5.6 s, +320 MB) before its row limit;
* a zip bomb: a few hundred KB of .xlsx that inflate to hundreds of MB;
* a 100,000-row file: parsed whole before the 20,000-row limit was checked.

Now the body limit counts bytes as they arrive (413 problem+json after the first MiB), and an .xlsx
is checked for its size, its declared dimension and its uncompressed size before openpyxl opens it,
then read in streaming mode off the event loop with the row limit checked row by row.
"""

from __future__ import annotations

import io
import json
import resource
import select
import socket
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import nats
import pytest
from kc_appraisal.main import create_app as appraisal_app
from kc_registry.main import create_app as registry_app
from kc_runtime.bus.streams import StreamPlan, ensure_streams
from kc_runtime.settings import Settings
from kc_testing.fixtures import SettingsFactory, bearer, served

MiB = 1024 * 1024
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def store() -> str:
    return "sqlite"  # the limits sit in front of the store


async def ensure(settings: Settings) -> None:
    nc = await nats.connect(settings.nats_url)
    try:
        await ensure_streams(nc.jetstream(), StreamPlan(("tinh-40", "bo")))
    finally:
        await nc.close()


class Cost:
    """What a request cost this process (the service runs in it, on a uvicorn thread): wall and CPU
    seconds, and how far its peak resident memory rose above where it was (Linux: VmHWM, reset
    through /proc/self/clear_refs). CPU and memory, unlike wall time, do not depend on how loaded
    the machine is."""

    def __enter__(self) -> Cost:
        Path("/proc/self/clear_refs").write_text("5")  # the peak starts again from now
        self.rss0 = self._status("VmRSS")
        self.cpu0 = self._cpu()
        self.wall0 = time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = self._cpu() - self.cpu0
        self.peak_mb = (self._status("VmHWM") - self.rss0) / 1024

    @staticmethod
    def _cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    @staticmethod
    def _status(key: str) -> int:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
        raise AssertionError(f"no {key} in /proc/self/status")

    def __str__(self) -> str:
        return f"{self.wall:.2f} s wall, {self.cpu:.2f} s CPU, peak +{self.peak_mb:.0f} MB"


def send_chunked(base: str, path: str, headers: dict[str, str], total: int, chunk: int = 256 * 1024) -> dict[str, Any]:
    """POST ``total`` bytes of body in chunks over a raw socket, stopping as soon as the server answers.

    Returns the status, the problem body, how many body bytes were sent before the answer and the
    seconds it took."""
    url = urlparse(base)
    sock = socket.create_connection((url.hostname, url.port), timeout=30)
    head = [f"POST {path} HTTP/1.1", f"Host: {url.hostname}", "Transfer-Encoding: chunked"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    began = time.perf_counter()
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
    sent = 0
    frame = f"{chunk:x}\r\n".encode() + b" " * chunk + b"\r\n"
    pending, finished, answer = b"", False, b""
    while True:
        readable, writable, _ = select.select([sock], [] if finished and not pending else [sock], [], 30)
        if readable:
            answer = sock.recv(65536)
            break  # the server has answered (or closed): stop sending
        if not writable:
            break
        if not pending:
            if sent < total:
                pending, sent = frame, sent + chunk
            else:
                pending, finished = b"0\r\n\r\n", True
        try:
            pending = pending[sock.send(pending) :]
        except (BrokenPipeError, ConnectionResetError):
            break
    try:
        while b"\r\n\r\n" not in answer:
            more = sock.recv(65536)
            if not more:
                break
            answer += more
        head_bytes, _, body = answer.partition(b"\r\n\r\n")
        length = next(
            (int(h.split(b":")[1]) for h in head_bytes.split(b"\r\n") if h.lower().startswith(b"content-length")), 0
        )
        while len(body) < length:
            more = sock.recv(65536)
            if not more:
                break
            body += more
    finally:
        sock.close()
    status = int(head_bytes.split(b" ")[1]) if head_bytes else 0
    content_type = next(
        (
            h.split(b":", 1)[1].strip().decode()
            for h in head_bytes.split(b"\r\n")
            if h.lower().startswith(b"content-type")
        ),
        "",
    )
    return {
        "status": status,
        "content_type": content_type,
        "body": json.loads(body) if body else None,
        "sent": sent,
        "seconds": time.perf_counter() - began,
    }


@pytest.fixture
def appraisal(make_settings: SettingsFactory) -> Iterator[tuple[str, Settings]]:
    settings = make_settings("appraisal")
    app = appraisal_app(settings)
    with served(app) as base:
        yield base, settings
    app.state.runtime.close()


async def test_a_chunked_50_mb_body_is_refused_with_413_after_the_first_mib(
    appraisal: tuple[str, Settings],
) -> None:
    base, settings = appraisal
    headers = bearer(settings) | {"Content-Type": "application/json"}
    with Cost() as cost:
        result = send_chunked(base, "/de-an", headers, total=50 * MiB)
    # before: 422 (JSON invalid) after reading all 50 MB, peak +100 MB
    assert result["status"] == 413, result
    assert result["content_type"].startswith("application/problem+json"), result
    assert result["body"]["status"] == 413
    assert "1048576" in result["body"]["detail"]
    # answered after the first MiB; what was sent meanwhile sits in the sockets' buffers
    assert result["sent"] < 20 * MiB, result
    assert cost.cpu < 1.0, cost
    assert cost.peak_mb < 30, cost


# -- spreadsheets ---------------------------------------------------------------------------------------------


def sheet_xml(rows: str, dimension: str | None) -> str:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"{dim}<sheetData>{rows}</sheetData></worksheet>"
    )


def xlsx(sheet: str, *, shared_strings: bytes | None = None) -> bytes:
    """A minimal .xlsx (inline strings, one sheet; shared strings if given) written by hand, as an
    attacker would."""
    shared_type = (
        '<Override PartName="/xl/sharedStrings.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    )
    shared_rel = (
        '<Relationship Id="rId2" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
        'Target="sharedStrings.xml"/>'
    )
    files: dict[str, str | bytes] = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            f"{shared_type if shared_strings else ''}</Types>"
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" '
            'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" '
            'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
            'Target="worksheets/sheet1.xml"/>'
            f"{shared_rel if shared_strings else ''}</Relationships>"
        ),
        "xl/worksheets/sheet1.xml": sheet,
    }
    if shared_strings:
        files["xl/sharedStrings.xml"] = shared_strings
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, text in files.items():
            z.writestr(name, text)
    return out.getvalue()


def cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


HEADER = f'<row r="1">{cell("A1", "Tên cơ sở")}{cell("B1", "Mã xã")}{cell("C1", "Loại hình")}</row>'


def data_row(n: int) -> str:
    return f'<row r="{n}">{cell(f"A{n}", f"Cơ sở {n}")}{cell(f"B{n}", "17419")}{cell(f"C{n}", "hộ kinh doanh")}</row>'


@pytest.fixture
def registry(make_settings: SettingsFactory) -> Iterator[tuple[str, Settings]]:
    settings = make_settings("registry")
    app = registry_app(settings)
    with served(app) as base:
        yield base, settings
    app.state.runtime.close()


def upload(base: str, settings: Settings, data: bytes, name: str = "co-so.xlsx") -> tuple[httpx.Response, Cost]:
    with Cost() as cost:
        response = httpx.post(
            f"{base}/imports/establishments",
            params={"dry_run": "true"},
            files={"file": (name, data, XLSX)},
            headers=bearer(settings),
            timeout=120,
        )
    return response, cost


def refused_file(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    errors = response.json()["errors"]
    assert errors[0]["field"] == "file", errors
    return str(errors[0]["message"])


async def test_an_xlsx_whose_only_row_is_numbered_2_000_000_is_refused_fast(
    registry: tuple[str, Settings],
) -> None:
    base, settings = registry
    for dimension in ("A1:C2000000", "A1:C2", None):  # declared, lied about, not declared at all
        data = xlsx(sheet_xml(HEADER + data_row(2_000_000), dimension))
        assert len(data) < 2000
        response, cost = upload(base, settings, data)
        # before: 422 for the row's own fields after 5-18 s (3-5 s of CPU) listing two million rows
        message = refused_file(response)
        assert "20.000" in message and "2.000.000" in message, message
        assert cost.cpu < 0.5, f"{cost} (dimension {dimension})"
        assert cost.peak_mb < 30, f"{cost} (dimension {dimension})"


async def test_an_xlsx_zip_bomb_is_refused_before_it_is_inflated(registry: tuple[str, Settings]) -> None:
    base, settings = registry
    # one shared string of 200 MB (openpyxl loads the shared strings whole) deflates to about 200 KB
    strings = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1">'
        b"<si><t>" + b"a" * (200 * MiB) + b"</t></si></sst>"
    )
    bomb = xlsx(sheet_xml(HEADER + data_row(2), "A1:C2"), shared_strings=strings)
    assert len(bomb) < 400_000
    response, cost = upload(base, settings, bomb)
    # before: the 200 MB string inflated and held (peak +200 MB and more), then the rows' own problems
    message = refused_file(response)
    assert "nén" in message, message  # "dữ liệu giải nén" (uncompressed data)
    assert cost.cpu < 0.5, cost
    assert cost.peak_mb < 30, cost


async def test_a_100_000_row_xlsx_is_refused_at_the_row_limit_without_reading_it_all(
    registry: tuple[str, Settings],
) -> None:
    base, settings = registry
    rows = "".join(data_row(n) for n in range(2, 100_002))
    data = xlsx(sheet_xml(HEADER + rows, None))  # no dimension: the limit must hold as rows are read
    response, cost = upload(base, settings, data)
    # before: the same refusal, after parsing all 100,000 rows (4.2 s of CPU)
    message = refused_file(response)
    assert "20.000" in message and "20.002" in message, message
    assert cost.cpu < 0.8, cost
    assert cost.peak_mb < 40, cost


async def test_an_import_does_not_stall_the_service_for_other_requests(registry: tuple[str, Settings]) -> None:
    """Parsed off the event loop: while a large (legal) file is read, health probes still answer."""
    import asyncio

    base, settings = registry
    rows = "".join(data_row(n) for n in range(2, 20_001))
    data = xlsx(sheet_xml(HEADER + rows, None))
    async with httpx.AsyncClient(base_url=base, headers=bearer(settings), timeout=120) as http:
        importing = asyncio.create_task(
            http.post("/imports/establishments", params={"dry_run": "true"}, files={"file": ("a.xlsx", data, XLSX)})
        )
        await asyncio.sleep(0.3)
        began_all = time.perf_counter()
        waits = []
        while not importing.done():
            began = time.perf_counter()
            assert (await http.get("/healthz")).status_code == 200
            waits.append(time.perf_counter() - began)
            await asyncio.sleep(0.05)
        response = await importing
        busy = time.perf_counter() - began_all
    assert response.status_code in (200, 422), response.text  # 422: rows' own problems (eligibility …)
    # on the event loop, the first probe would wait for the whole parse and no other would fit in
    assert busy > 0.2, f"the import took only {busy:.2f} s: nothing to measure"
    # (before: one probe, which waited 1.37 of the import's 1.42 s)
    # Counted, not timed: a parse on the event loop lets exactly one probe through (it waits for the
    # whole parse, then the import is done); how long each probe waits depends on the machine's load
    # (a probe waited 0.43 s of a 0.68 s import once on a busy 2-core machine, with the parse off the loop)
    # (off the loop but in a thread, the parse still holds the GIL in stretches: a probe can wait 0.3–0.5 s)
    assert len(waits) >= 2, f"{len(waits)} probes answered in the {busy:.2f} s of the import ({waits})"
