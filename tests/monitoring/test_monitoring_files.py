"""deploy/monitoring/: the alert rules pass ``promtool check rules`` (Debian's prometheus package; CI
installs it); every service's exposition passes ``promtool check metrics``; every metric an alert or a
dashboard panel names is one the services export — read from each service's own ``/metrics``, parsed
by prometheus-client's parser; the scrape configuration lists every service of ``make run`` on its port."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from kc_appraisal.main import create_app as appraisal_app
from kc_console.main import create_app as console_app
from kc_console.settings import ConsoleSettings
from kc_notifications.main import create_app as notifications_app
from kc_notifications.settings import NotificationSettings
from kc_planning.main import create_app as planning_app
from kc_registry.main import create_app as registry_app
from kc_testing.fixtures import SettingsFactory, bearer
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
METRIC = re.compile(r"\bkc_[a-z0-9_]+\b")
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "info": ("_info",),
}
# what issue 19 asks the rules to watch
REQUIRED_ALERTS = {
    "KcRelayLagGrowing",
    "KcDeadLetters",
    "KcProjectionStopped",
    "KcProjectionQuarantine",
    "KcDeadlineTomorrowUnsubmitted",
}


@pytest.fixture(scope="module")
def rules() -> list[dict[str, object]]:
    doc = yaml.safe_load((MONITORING / "alerts.yml").read_text("utf-8"))
    return [rule for group in doc["groups"] for rule in group["rules"]]


LABELS = re.compile(r"\{[^}]*\}|\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")


def metric_names(expr: str) -> set[str]:
    """The kc_ metrics a PromQL expression (or Grafana's label_values(metric, label)) reads: label
    matchers and groupings left out (``kc_instance`` is a label)."""
    expr = re.sub(r"label_values\((\w+),\s*\w+\)", r"\1", expr)
    return set(METRIC.findall(LABELS.sub(" ", expr)))


def exported(text: str) -> set[str]:
    """Every series name an exposition offers (families with no sample yet included, with their suffixes)."""
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ()))
        names.update(sample.name for sample in family.samples)
    return names


def promtool_or_skip() -> str | None:
    """promtool's path; None (the caller skips) when it is missing outside CI; a failure in CI."""
    promtool = shutil.which("promtool")
    if promtool is None and os.environ.get("CI"):
        pytest.fail("promtool missing (CI installs Debian's prometheus package: .ci/run)")
    return promtool


def lint(exposition: str) -> None:
    """Prometheus' own parser and metric-name lint (``promtool check metrics``) on an exposition."""
    promtool = promtool_or_skip()
    if promtool is None:
        return
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=exposition, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_metric_the_rules_and_dashboard_name_is_exported(
    make_settings: SettingsFactory, tmp_path: Path, rules: list[dict[str, object]]
) -> None:
    runtime_apps = [
        registry_app(make_settings("registry")),
        appraisal_app(make_settings("appraisal")),
        planning_app(make_settings("planning")),
        notifications_app(NotificationSettings(**make_settings("notifications").model_dump())),
    ]
    available: set[str] = set()
    families: set[str] = set()
    for app in runtime_apps:
        settings = app.state.runtime.settings
        with TestClient(app) as http:  # the lifespan runs: the service as it serves
            # /metrics is added after install_auth: its mapping (RUNTIME_ROUTE_PERMISSIONS) is what guards it
            assert http.get("/metrics").status_code == 401
            assert http.get("/metrics", headers=bearer(settings, "so_ct")).status_code == 403
            answer = http.get("/metrics", headers=bearer(settings, "kiem_toan_tinh"))
            assert answer.status_code == 200
            available |= exported(answer.text)
            families |= {f.name for f in text_string_to_metric_families(answer.text)}
            lint(answer.text)
    console = console_app(ConsoleSettings(instance="tinh-40", var_dir=tmp_path / "console"))
    available |= exported(console.state.metrics.exposition().decode())
    lint(console.state.metrics.exposition().decode())
    families |= {f.name for f in text_string_to_metric_families(console.state.metrics.exposition().decode())}

    named = {rule["alert"]: metric_names(str(rule["expr"])) for rule in rules}
    assert set(named) >= REQUIRED_ALERTS
    for alert, metrics in named.items():
        assert metrics - available == set(), f"{alert} names metrics no service exports"
    assert all(metrics for alert, metrics in named.items() if alert != "KcServiceDown")

    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text("utf-8"))
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    exprs += [v["definition"] for v in dashboard["templating"]["list"] if "definition" in v]
    assert len(exprs) >= 10
    for expr in exprs:
        assert metric_names(expr), expr
        assert metric_names(expr) - available == set(), expr
    # and every family the services export is on the dashboard or in an alert (the running total of what
    # the relay published is there for a rate by hand; the service's info labels the instance)
    watched = {m for e in exprs for m in metric_names(e)} | {m for ms in named.values() for m in ms}
    unwatched = {
        f
        for f in families
        if f.startswith("kc_") and not f.endswith("_created") and not any(w.startswith(f) for w in watched)
    }
    assert unwatched == {"kc_relay_published", "kc_relay_running"} - watched, unwatched


def test_the_alert_rules_pass_promtool(tmp_path: Path) -> None:
    promtool = promtool_or_skip()
    if promtool is None:
        pytest.skip("promtool not installed (apt-get install prometheus)")
    checked = subprocess.run(
        [promtool, "check", "rules", str(MONITORING / "alerts.yml")], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # the scrape configuration too (its token file is generated by the operator: a stand-in here)
    config = tmp_path / "prometheus.yml"
    config.write_text((MONITORING / "prometheus.yml").read_text("utf-8"), "utf-8")
    shutil.copy(MONITORING / "alerts.yml", tmp_path / "alerts.yml")
    (tmp_path / "kc-auditor.token").write_text("stand-in", "utf-8")
    checked = subprocess.run([promtool, "check", "config", str(config)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_scrape_configuration_lists_every_service_of_make_run() -> None:
    system = tomllib.loads((ROOT / "deploy" / "local" / "system.toml").read_text("utf-8"))
    ports = {s["name"]: s["port"] for s in system["service"]}
    expected = {
        (f"kc-{name}", f"127.0.0.1:{ports[name] + inst['port_offset']}", inst["id"])
        for inst in system["instance"]
        for name in inst["services"]
    }
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text("utf-8"))
    found = {
        (job["job_name"], target, static["labels"]["kc_instance"])
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    assert found == expected
    for job in config["scrape_configs"]:  # /metrics needs the auditor's token
        assert job["authorization"] == {"type": "Bearer", "credentials_file": "kc-auditor.token"}
    assert config["rule_files"] == ["alerts.yml"]
