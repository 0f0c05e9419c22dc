"""The real flow (`rempart run`, `rempart watch`) on a real database of its own."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from flows.database import connection_info, temporary_server
from flows.settings import PROJECT_DIR, Settings, load_settings
from tests.conftest import isolated_environment, run_rempart

EXAMPLES = PROJECT_DIR / "data" / "examples" / "files"


@dataclass
class Deployment:
    settings: Settings
    env: dict[str, str]

    @property
    def inbox(self) -> Path:
        return Path(self.env["REMPART_INBOX_DIR"])

    def query(self, statement: str, *params: object) -> list[tuple]:
        with connection_info(self.settings).connect() as conn:
            return conn.execute(statement, params or None).fetchall()

    def runs(self) -> list[tuple[str, str]]:
        """(outcome, sync) of every audited pipeline run, oldest first."""
        return self.query(
            "select details ->> 'outcome', details ->> 'sync' from audit.events "
            "where action = 'pipeline_run' order by event_id"
        )


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    work = tmp_path_factory.mktemp("deployment")
    with temporary_server(load_settings()) as scratch:
        env = {
            **isolated_environment(scratch.state_dir, work),
            # Superset and its sync have tests of their own (tests/e2e).
            "REMPART_SUPERSET_SYNC": "false",
        }
        (work / "inbox").mkdir()
        yield Deployment(scratch, env)


def _rempart_run(deployment: Deployment) -> subprocess.CompletedProcess[str]:
    return run_rempart("run", env=deployment.env, check=False, timeout=900)


def test_happy_path_lands_builds_and_audits(deployment: Deployment) -> None:
    for example in EXAMPLES.iterdir():
        shutil.copy(example, deployment.inbox / example.name)
    result = _rempart_run(deployment)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "5 landed" in result.stderr
    assert "0 failed" in result.stderr
    assert "outcome    │ success" in result.stderr
    assert deployment.query("select count(*) > 2000 from marts.fct_kpi_values") == [(True,)]
    assert deployment.runs()[-1][0] == "success"

    again = _rempart_run(deployment)  # nothing new: nothing lands, the build is a no-op merge
    assert again.returncode == 0
    assert "0 landed (0 rows)" in again.stderr


def test_a_bad_file_among_good_ones_is_quarantined_and_reported(deployment: Deployment) -> None:
    good = "date_mesure;département;catégorie;sous_catégorie;indicateur;valeur;unité;commentaire\n"
    good += "02/11/2026;Ventes;Boissons;Café;chiffre_affaires;100,5;EUR;\n"
    (deployment.inbox / "sales_fr_2026-11.csv").write_text(good, encoding="cp1252")
    (deployment.inbox / "broken.csv").write_text("kpi,value\nrevenue,1,2\n")
    result = _rempart_run(deployment)
    assert result.returncode == 3, result.stderr[-3000:]
    assert "1 landed" in result.stderr and "1 rejected" in result.stderr
    assert "broken.csv (record 2, line 2): a row has the wrong number of fields" in result.stderr
    assert result.stderr.strip().endswith("rempart run: files_rejected: 1 file(s) rejected")
    quarantine = Path(deployment.env["REMPART_QUARANTINE_DIR"])
    assert (quarantine / "broken.csv.error.json").exists()
    assert deployment.query(
        "select kpi_value::text from marts.fct_kpi_values "
        "where source_file_name = 'sales_fr_2026-11.csv'"
    ) == [("100.5",)]
    assert deployment.runs()[-1][0] == "files_rejected"


def test_a_failed_dbt_test_stops_the_flow_before_the_sync(deployment: Deployment) -> None:
    # Land a file, then corrupt it behind the loader's back before any build reads it: a row
    # duplicated in raw.records breaks the primary-key test of stg_raw__records, which checks
    # the rows landed since the last build that passed.
    corrections = "date_mesure;département;catégorie;sous_catégorie;indicateur;valeur;unité\n"
    corrections += "03/11/2026;Ventes;Boissons;Café;chiffre_affaires;55,5;EUR\n"
    name = "sales_fr_2026-11-corrections.csv"
    (deployment.inbox / name).write_text(corrections, encoding="cp1252")
    run_rempart("ingest", env=deployment.env)
    [(partition,)] = deployment.query(
        "select 'raw.records_' || file_id from raw.files "
        "where file_name = %s and status = 'landed'",
        name,
    )
    with connection_info(deployment.settings).connect() as conn:
        conn.execute(f"insert into {partition} select * from {partition} limit 1")
    try:
        result = _rempart_run(deployment)
    finally:
        with connection_info(deployment.settings).connect() as conn:
            conn.execute(
                f"delete from {partition} where ctid in (select max(ctid) from {partition})"
            )
    assert result.returncode == 4, result.stderr[-3000:]
    assert "not run: the build failed" in result.stderr
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("rempart run: build_failed: test unique_combination_stg_raw__rec")
    assert deployment.runs()[-1] == ("build_failed", "not run: the build failed")


def test_watch_lands_and_builds_a_dropped_file_once(deployment: Deployment) -> None:
    runs_before = len(deployment.runs())
    watcher = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "rempart"),
            "watch",
            "--interval",
            "1",
            "--quiet-seconds",
            "1",
        ],
        cwd=PROJECT_DIR,
        env={**os.environ, **deployment.env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(2)
        partial = deployment.inbox / "sales_fr_2026-12.csv.part"
        partial.write_text(
            "date_mesure;département;catégorie;sous_catégorie;indicateur;valeur;unité;commentaire\n"
            "01/12/2026;Ventes;Frais;Crèmerie;chiffre_affaires;77,7;EUR;\n",
            encoding="cp1252",
        )
        partial.rename(deployment.inbox / "sales_fr_2026-12.csv")
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if len(deployment.runs()) > runs_before:
                break
            assert watcher.poll() is None, watcher.stderr.read() if watcher.stderr else ""
            time.sleep(2)
        time.sleep(8)  # a second run would start within this time if the file were taken twice
    finally:
        watcher.send_signal(signal.SIGINT)
        try:
            watcher.wait(timeout=60)
        except subprocess.TimeoutExpired:
            watcher.kill()
    assert len(deployment.runs()) == runs_before + 1
    assert deployment.query(
        "select count(*) from marts.fct_kpi_values where source_file_name = 'sales_fr_2026-12.csv'"
    ) == [(1,)]
    assert deployment.query(
        "select count(*) from raw.files where file_name = 'sales_fr_2026-12.csv'"
    ) == [(1,)]
