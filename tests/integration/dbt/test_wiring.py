"""dbt reaches the same database through `rempart dbt` and through plain `dbt`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg

from flows.runtime.settings import PROJECT_DIR
from tests.conftest import run_rempart


def test_rempart_dbt_build_then_plain_dbt_test(db: psycopg.Connection) -> None:
    built = run_rempart("dbt", "build", "--select", "dim_dates", "--indirect-selection", "cautious")
    assert "Completed successfully" in built.stdout
    days = db.execute("select count(*), min(date_day) from marts_pending.dim_dates").fetchone()
    assert days is not None and days[0] > 3650

    rempart = Path(sys.executable).parent / "rempart"
    plain = subprocess.run(
        [
            "bash",
            "-c",
            f'eval "$({rempart} env)" && {Path(sys.executable).parent}/dbt test '
            "--select dim_dates --indirect-selection cautious",
        ],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert plain.returncode == 0, plain.stdout + plain.stderr
    # The two tests of dim_dates and the project's three hooks (build log start and end, the
    # marts schema grant).
    assert "PASS=5" in plain.stdout
    assert "ERROR=0" in plain.stdout
