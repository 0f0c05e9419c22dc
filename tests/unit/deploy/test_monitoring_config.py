"""The monitoring an operator deploys: Prometheus's configuration and alert rules pass
promtool's checks and their own unit tests; the rules and the Grafana dashboard use only
metrics `rempart metrics` serves."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from flows.runtime.settings import PROJECT_DIR

ROOT = PROJECT_DIR
PROMETHEUS = ROOT / "deploy" / "prometheus"
METRIC = re.compile(r"\brempart_[a-z_]+\b")
# What Prometheus derives from a histogram or a counter family's name.
SAMPLE_SUFFIX = re.compile(r"_(bucket|sum|count|total)$")


def _served() -> set[str]:
    return set(re.findall(r'"(rempart_[a-z_]+)"', (ROOT / "flows" / "metrics.py").read_text()))


@pytest.mark.parametrize(
    "args",
    [
        ("check", "config", "prometheus.yml"),
        ("check", "rules", "rempart_rules.yml"),
        ("test", "rules", "rempart_rules.test.yml"),
    ],
)
def test_promtool_accepts_the_configuration_and_the_rules(args: tuple[str, ...]) -> None:
    done = subprocess.run(
        ["promtool", *args], cwd=PROMETHEUS, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_rules_and_dashboard_use_only_served_metrics() -> None:
    served = _served()
    assert {"rempart_source_files", "rempart_last_publish_timestamp_seconds"} <= served
    rules = set(METRIC.findall((PROMETHEUS / "rempart_rules.yml").read_text()))
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "rempart.json").read_text())
    expressions = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    used = {SAMPLE_SUFFIX.sub("", name) for name in rules | set(METRIC.findall(expressions))}
    assert used and used <= served, used - served
