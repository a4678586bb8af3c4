"""Registry benchmark: a 1,000-row .xlsx import and search over 10,000 establishments.

Runs the real application (SQLite under a temporary directory) through its HTTP API in-process.
Prints a table and writes JSON (``--json PATH``). Part of ``make bench``.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from kc_registry.domain.taxcode import check_digit
from kc_registry.main import create_app
from kc_runtime.adminunits import load_catalogue
from kc_runtime.logs import configure_logging
from kc_runtime.settings import Settings
from kc_testing.fixtures import bearer
from openpyxl import Workbook

WORDS = [
    "Đồng Tháp",
    "Thanh Chương",
    "Diễn Châu",
    "Quỳnh Lưu",
    "Nam Đàn",
    "Hưng Nguyên",
    "Đô Lương",
    "Yên Thành",
    "Con Cuông",
    "Tân Kỳ",
    "Nghĩa Đàn",
    "Anh Sơn",
]
KINDS = [
    ("Cơ sở mộc", "thu_cong_my_nghe"),
    ("HTX chè", "che_bien_nong_lam_thuy_san"),
    ("Cơ sở cơ khí", "co_khi_che_tao"),
    ("Cơ sở gạch không nung", "vat_lieu_xay_dung_khong_nung"),
    ("Cơ sở may", "det_may_da_giay"),
]


def tax_codes(rng: random.Random) -> Any:
    seen: set[str] = set()
    while True:
        nine = f"{rng.randrange(10**8, 10**9):09d}"
        digit = check_digit(nine)
        if digit is not None and nine not in seen:
            seen.add(nine)
            yield f"{nine}{digit}"


def workbook(rows: int, rng: random.Random, codes: Any, communes: list[str]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Tên cơ sở", "Mã số thuế", "Loại hình", "Mã xã", "Ngành nghề", "Số lao động", "Chủ là nữ"])
    for i in range(rows):
        prefix, sector = rng.choice(KINDS)
        sheet.append(
            [
                f"{prefix} {rng.choice(WORDS)} số {i}",
                next(codes),
                rng.choice(["Hộ kinh doanh", "Hợp tác xã"]),
                rng.choice(communes),
                sector,
                rng.randrange(1, 200),
                rng.choice(["có", "không"]),
            ]
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def timed(fn: Any) -> tuple[float, Any]:
    began = time.perf_counter()
    result = fn()
    return (time.perf_counter() - began) * 1000, result


def run() -> dict[str, Any]:
    configure_logging("WARNING")  # the request log of 10,000 rows is not the benchmark's output
    rng = random.Random(2024)
    communes = sorted(c.code for c in load_catalogue().current.values() if c.province.code == "40")
    codes = tax_codes(rng)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(service="registry", instance="tinh-40", var_dir=Path(tmp)))
        client = TestClient(app, headers=bearer(app.state.runtime.settings, "so_ct", name="bench"))

        def upload(data: bytes, dry_run: bool) -> Any:
            response = client.post(
                "/imports/establishments",
                params={"dry_run": str(dry_run).lower()},
                files={"file": ("ds.xlsx", data, "application/octet-stream")},
            )
            assert response.status_code in (200, 201), response.text[:500]
            return response.json()

        first = workbook(1000, rng, codes, communes)
        results["import_1000_dry_run_ms"], _ = timed(lambda: upload(first, True))
        results["import_1000_apply_ms"], report = timed(lambda: upload(first, False))
        assert report["new"] == 1000
        results["reimport_1000_ms"], again = timed(lambda: upload(first, False))
        assert again["existing"] == 1000
        for _ in range(9):
            upload(workbook(1000, rng, codes, communes), False)
        total = client.get("/establishments", params={"limit": 1}).json()["total"]
        assert total == 10_000, total

        queries = {
            "search 'dong thap'": {"q": "dong thap"},
            "search 'ĐÔNG THÁP số 12'": {"q": "ĐÔNG THÁP số 12"},
            "filter commune+sector": {"commune_code": communes[3], "sector": "co_khi_che_tao"},
            "search + legal form": {"q": "che thanh chuong", "legal_form": "hop_tac_xa"},
        }
        for label, params in queries.items():
            samples = []
            for _ in range(30):
                ms, response = timed(lambda p=params: client.get("/establishments", params=p))
                assert response.status_code == 200
                samples.append(ms)
            results[f"{label} over 10,000: p50 ms"] = statistics.median(samples)
            results[f"{label} over 10,000: p95 ms"] = sorted(samples)[int(len(samples) * 0.95) - 1]
            results[f"{label}: hits"] = response.json()["total"]
        app.state.runtime.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = run()
    print(f"{'registry measure':<52} {'value':>12}")
    for key, value in results.items():
        print(f"{key:<52} {value:>12.1f}" if isinstance(value, float) else f"{key:<52} {value:>12}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"registry": results}, indent=2))
        print(f"JSON: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
