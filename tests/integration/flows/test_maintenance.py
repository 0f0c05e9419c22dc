"""The nightly maintenance flow, run once as cron would (`rempart maintenance`), and the
deployments of prefect.yaml, each naming a flow that exists."""

from __future__ import annotations

import importlib.util

import pytest
import yaml
from prefect import Flow

from flows.backup.backup_set import list_sets
from flows.runtime.settings import PROJECT_DIR
from tests.integration.conftest import Installation

# Runs the whole pipeline (or a whole installation): not in `make test-fast`.
pytestmark = pytest.mark.slow


def test_maintenance_backs_up_verifies_and_rotates(installation: Installation) -> None:
    for period, keep in (("DAILY", "1"), ("WEEKLY", "0"), ("MONTHLY", "0")):
        installation.env[f"REMPART_BACKUP_KEEP_{period}"] = keep
    installation.rempart("backup", "create")  # never verified: rotation may take it
    code, said = installation.rempart("maintenance")
    assert code == 0 and "made and verified" in said and "1 old set(s) rotated out" in said, said
    # What remains is the set the flow made and verified; the unverified one went.
    [kept] = [s for d in installation.settings.backup_destinations for s in list_sets(d)]
    assert f"backup {kept.path} made" in said
    assert installation.audit_actions().count("backup_verified") == 1


def test_every_deployment_names_a_flow() -> None:
    declared = yaml.safe_load((PROJECT_DIR / "prefect.yaml").read_text())
    entrypoints = {d["name"]: d["entrypoint"] for d in declared["deployments"]}
    assert "nightly-maintenance" in entrypoints
    for name, entrypoint in entrypoints.items():
        path, function = entrypoint.split(":")
        spec = importlib.util.spec_from_file_location(f"deployment_{name}", PROJECT_DIR / path)
        assert spec and spec.loader, name
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert isinstance(getattr(module, function), Flow), name
