"""import-linter enforces the boundaries: it must pass on the tree and fail on a violation."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    ROOT / "kernel" / "src",
    ROOT / "contracts" / "src",
    *sorted((ROOT / "services").glob("*/src")),
    *sorted((ROOT / "tools").glob("*/src")),
]


def lint_imports(pythonpath: list[Path]) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PYTHONPATH": os.pathsep.join(str(p) for p in pythonpath), "COLUMNS": "200"}  # no wrapped names
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "lint-imports"),
            "--config",
            str(ROOT / ".importlinter"),
            "--no-cache",
        ],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def copy_tree(tmp_path: Path) -> list[Path]:
    copies = []
    for src in SOURCES:
        dest = tmp_path / src.relative_to(ROOT)
        shutil.copytree(src, dest, ignore=shutil.ignore_patterns("__pycache__"))
        copies.append(dest)
    return copies


def test_the_tree_keeps_every_import_contract() -> None:
    result = lint_imports(SOURCES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_service_importing_another_service_breaks_the_build(tmp_path: Path) -> None:
    copies = copy_tree(tmp_path)
    api = tmp_path / "services/registry/src/kc_registry/api.py"
    api.write_text(api.read_text() + "\nimport kc_planning.api  # noqa\n")

    result = lint_imports(copies)
    assert result.returncode != 0
    assert (
        "Services never import each other (only kc_kernel, kc_contracts and kc_runtime are shared) BROKEN"
        in result.stdout
    )


def test_a_domain_package_importing_io_breaks_the_build(tmp_path: Path) -> None:
    copies = copy_tree(tmp_path)
    domain = tmp_path / "services/registry/src/kc_registry/domain/establishment.py"
    domain.write_text(domain.read_text() + "\nimport sqlite3  # noqa\n")

    result = lint_imports(copies)
    assert result.returncode != 0
    assert "Domain packages import no I/O (no bus, web, database, runtime) BROKEN" in result.stdout


@pytest.mark.parametrize(
    "module",
    [
        "services/registry/src/kc_registry/domain/establishment.py",
        "services/appraisal/src/kc_appraisal/domain/de_an/aggregate.py",
        "services/planning/src/kc_planning/domain/plan.py",
    ],
)
def test_a_domain_package_importing_the_contracts_breaks_the_build(tmp_path: Path, module: str) -> None:
    copies = copy_tree(tmp_path)
    domain = tmp_path / module
    domain.write_text(domain.read_text() + "\nfrom kc_contracts.money import vnd as _vnd  # noqa\n")

    result = lint_imports(copies)
    assert result.returncode != 0
    assert "Domain packages speak the shared kernel, never the public contracts BROKEN" in result.stdout


def test_the_kernel_importing_the_contracts_breaks_the_build(tmp_path: Path) -> None:
    copies = copy_tree(tmp_path)
    money = tmp_path / "kernel/src/kc_kernel/money.py"
    money.write_text(money.read_text() + "\nimport kc_contracts.envelope  # noqa\n")

    result = lint_imports(copies)
    assert result.returncode != 0
    assert (
        "The shared kernel stands alone (the contracts depend on it; it imports no contract, runtime or I/O) BROKEN"
        in result.stdout
    )


@pytest.mark.parametrize(
    ("module", "imports"),
    [
        ("application.py", "kc_appraisal.api"),  # a use case reaching into the HTTP adapter
        ("domain/de_an/aggregate.py", "kc_appraisal.application"),  # the domain reaching up
        ("application.py", "kc_appraisal.integration"),  # contract translation leaking into a use case
    ],
)
def test_a_layer_importing_one_above_it_breaks_the_build(tmp_path: Path, module: str, imports: str) -> None:
    copies = copy_tree(tmp_path)
    source = tmp_path / "services/appraisal/src/kc_appraisal" / module
    source.write_text(source.read_text() + f"\nimport {imports}  # noqa\n")

    result = lint_imports(copies)
    assert result.returncode != 0
    assert "Appraisal layers: adapters → application → commands → domain BROKEN" in result.stdout


@pytest.mark.parametrize(
    ("module", "imports"),
    [
        ("application.py", "kc_notifications.integration"),  # a use case reading a contract event itself
        ("application.py", "kc_notifications.messaging"),  # a use case reaching into the bus adapter
        ("commands.py", "kc_notifications.application"),  # a command reaching up
    ],
)
def test_a_notifications_layer_importing_one_above_it_breaks_the_build(
    tmp_path: Path, module: str, imports: str
) -> None:
    copies = copy_tree(tmp_path)
    source = tmp_path / "services/notifications/src/kc_notifications" / module
    source.write_text(source.read_text() + f"\nimport {imports}  # noqa\n")

    result = lint_imports(copies)
    assert result.returncode != 0
    assert (
        "Notifications layers: adapters → integration, scheduler, senders → application → commands → store → domain"
        " BROKEN" in result.stdout
    )


@pytest.mark.parametrize(
    ("module", "imports", "contract"),
    [
        (
            "services/runtime/src/kc_runtime/service.py",
            "kc_ops.natsserver",
            "kernel, contracts and runtime import no operations tool, test fixture or command line BROKEN",
        ),
        (
            "services/registry/src/kc_registry/main.py",
            "kc_testing.fixtures",
            "Services import the runtime, never the operations tools, the test fixtures or the command line BROKEN",
        ),
        (
            "tools/ops/src/kc_ops/supervisor.py",
            "kc_testing.fixtures",
            "The test fixtures (kc_testing, which needs pytest) are imported by tests only BROKEN",
        ),
        (
            "tools/cli/src/kc_cli/main.py",
            "kc_planning.api",
            "The operations tools and the command line talk to services over HTTP and NATS, never by import BROKEN",
        ),
        (
            "services/runtime/src/kc_runtime/store/views.py",  # the store reaching up into the bus
            "kc_runtime.bus.inbox",
            "Runtime rooms: the service composition → web → bus → store → settings, keys, tracing, logs, text BROKEN",
        ),
        (
            "services/runtime/src/kc_runtime/bus/relay.py",  # the bus reaching up into the web
            "kc_runtime.web.errors",
            "Runtime rooms: the service composition → web → bus → store → settings, keys, tracing, logs, text BROKEN",
        ),
        (
            "tools/cli/src/kc_cli/backup/parts.py",  # a backup's names reaching up into the commands
            "kc_cli.backup.commands",
            "kc backup rooms: commands → manifest (write, check), stream (republish) → database → parts BROKEN",
        ),
        (
            "services/planning/src/kc_planning/reports/model.py",  # the report data reaching into a drawing
            "kc_planning.reports.pdf",
            "Planning's official reports: the drawings (xlsx, pdf) → the report data (rows, periods, dated forms)"
            " BROKEN",
        ),
    ],
)
def test_a_runtime_room_or_tool_importing_across_its_rule_breaks_the_build(
    tmp_path: Path, module: str, imports: str, contract: str
) -> None:
    copies = copy_tree(tmp_path)
    source = tmp_path / module
    source.write_text(source.read_text() + f"\nimport {imports}  # noqa\n")

    result = lint_imports(copies)
    assert result.returncode != 0
    assert contract in result.stdout
