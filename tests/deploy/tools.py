"""Helpers for the deployment-kit tests: where the files are, the Debian binaries they run.

Not a test module.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import Serve
from tests.helpers import free_port, require_binary

ROOT = Path(__file__).resolve().parent.parent.parent
MONITORING = ROOT / "deployments" / "monitoring"
GRAFANA = ROOT / "deployments" / "grafana"
KUBERNETES = ROOT / "deployments" / "kubernetes"
COMPOSE_FILE = ROOT / "docker-compose.yml"
DASHBOARD = GRAFANA / "dashboards" / "alert-receiver.json"
VENV_BIN = Path(sys.executable).parent


def require(binary: str, package: str) -> str:
    """Path of `binary` on PATH. Missing: the test is skipped with a printed reason, except
    under CI=true, where it fails (.ci/run installs the package)."""
    return require_binary(binary, package=package)


def run(
    *cmd: str | Path, cwd: Path = ROOT, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion; its output is kept for the assertion message."""
    return subprocess.run(
        [str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def alerting_rules() -> list[dict[str, Any]]:
    """Every alerting rule of alerts.yml, each with its group's name under `_group`."""
    rules = []
    for group in load_yaml(MONITORING / "alerts.yml")["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                rules.append({**rule, "_group": group["name"]})
    return rules


def dashboard_exprs() -> list[tuple[str, str]]:
    """(panel title, PromQL) of every query in the dashboard JSON."""
    import json

    out = []
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel.get("targets", []):
            out.append((panel["title"], target["expr"]))
    return out


# What Grafana puts in place of its variables when it sends a query; the scrape job of
# the tests is called what the rules and compose call it.
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "1h",
    "$job": "alert-receiver",
}


def substitute(expr: str) -> str:
    """The query as Grafana sends it: variables replaced (longest names first)."""
    for name in sorted(GRAFANA_VARIABLES, key=len, reverse=True):
        expr = expr.replace(name, GRAFANA_VARIABLES[name])
    return expr


def serve_config(tmp: Path, config: dict[str, Any]) -> Serve:
    """`alert-receiver serve` started (and ready) on `config`, written to tmp/receiver.yml,
    with its data directory in tmp; the caller stops it."""
    (tmp / "receiver.yml").write_text(yaml.safe_dump(config))
    (tmp / "data").mkdir()
    server = Serve(tmp / "receiver.yml", tmp / "data", free_port())
    server.start()
    return server
