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

import httpx
import psutil
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from flows.runtime.database import connection_info, temporary_server
from flows.runtime.secrets import SecretStore
from flows.runtime.settings import PROJECT_DIR, Settings, load_settings
from tests.conftest import free_port, isolated_environment, run_rempart

# Runs the whole pipeline (or a whole installation): not in `make test-fast`.
pytestmark = pytest.mark.slow

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
    # Prefect's ephemeral mode, a laptop's default: the run starts and stops its own API.
    ephemeral = {**deployment.env, "PREFECT_API_URL": ""}
    result = run_rempart("run", env=ephemeral, check=False, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "5 landed" in result.stderr
    assert "0 failed" in result.stderr
    assert "outcome    │ success" in result.stderr
    assert deployment.query("select count(*) > 2000 from marts.fct_kpi_values") == [(True,)]
    assert deployment.runs()[-1][0] == "success"

    # Nothing new: the run says so and builds nothing, before and after landing a duplicate.
    again = _rempart_run(deployment)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "0 landed (0 rows)" in again.stderr
    assert "rempart run: nothing new: no file landed and the project is unchanged" in again.stderr
    assert "models" not in again.stderr
    example = next(EXAMPLES.iterdir())
    shutil.copy(example, deployment.inbox / example.name)
    duplicate = _rempart_run(deployment)
    assert duplicate.returncode == 0, duplicate.stderr[-3000:]
    assert "1 duplicate" in duplicate.stderr and "nothing new" in duplicate.stderr
    assert "models" not in duplicate.stderr
    forced = run_rempart("run", "--force", env=deployment.env, check=False, timeout=900)
    assert forced.returncode == 0, forced.stderr[-3000:]
    assert "32 built, 0 failed" in forced.stderr
    # Runs share dbt's partial parse: nothing in the configuration changes from one to the next.
    assert "Unable to do partial parsing" not in forced.stderr
    assert [outcome for outcome, _ in deployment.runs()[-4:]] == ["success"] * 4


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


SALES_HEADER = "date_mesure;département;catégorie;sous_catégorie;indicateur;valeur;unité\n"


def _published_state(deployment: Deployment) -> dict[str, str]:
    """A digest of every published mart's rows, table by table (the build log aside)."""
    tables = [
        name
        for (name,) in deployment.query(
            "select tablename from pg_tables where schemaname = 'marts' "
            "and tablename not in ('pipeline_builds', 'fct_pipeline_builds') order by 1"
        )
    ]
    assert {"fct_kpi_values", "kpi_daily_summary", "dim_dates", "dq_rejected_rows"} <= set(tables)
    return {
        table: deployment.query(
            f"select count(*)::text || ':' || coalesce(md5(string_agg(t::text, '|' "
            f"order by t::text)), '') from marts.{table} as t"
        )[0][0]
        for table in tables
    }


def _security_of(deployment: Deployment, schema: str) -> dict[str, tuple[object, ...]]:
    """Per mart: row security on, its policies and its indexes (method and columns)."""
    rows = deployment.query(
        "select c.relname, c.relrowsecurity, "
        "array(select polname || ':' || pg_get_expr(polqual, polrelid) from pg_policy "
        "      where polrelid = c.oid order by 1), "
        "array(select regexp_replace(pg_get_indexdef(indexrelid), '^.* USING ', '') "
        "      from pg_index where indrelid = c.oid order by 1) "
        "from pg_class as c join pg_namespace as n on n.oid = c.relnamespace "
        "where n.nspname = %s and c.relkind = 'r' and c.relname <> 'pipeline_builds'",
        schema,
    )
    return {name: (rls, tuple(policies), tuple(indexes)) for name, rls, policies, indexes in rows}


def _departments_seen_by(deployment: Deployment, role: str) -> set[str]:
    with connection_info(deployment.settings).connect() as conn:
        conn.execute(f"set role {role}")
        rows = conn.execute("select distinct department from marts.fct_kpi_values").fetchall()
    return {department for (department,) in rows}


def test_a_failed_test_publishes_nothing_until_a_corrected_file_passes(
    deployment: Deployment,
) -> None:
    """Write-audit-publish: a build whose test fails leaves every published mart as it was,
    its rows wait in marts_pending; the next passing build publishes both files at once."""
    before = _published_state(deployment)
    bad = SALES_HEADER + (
        "05/11/2026;Ventes;Boissons;Café;taux_conversion;250;%\n"
        "05/11/2026;Ventes;Boissons;Café;chiffre_affaires;321,5;EUR\n"
    )
    (deployment.inbox / "sales_fr_2026-11-05.csv").write_text(bad, encoding="utf-8")
    failed = _rempart_run(deployment)
    assert failed.returncode == 4, failed.stderr[-3000:]
    assert "test assert_kpi_values_fit_their_unit: fail" in failed.stderr
    assert "nothing published" in failed.stderr
    # The project is unchanged since the last published build: only what new data reaches.
    assert "(built: new data)" in failed.stderr
    assert _published_state(deployment) == before

    # The held-back rows are in the pending schema, which the analyst may read, viewers not.
    pending = "select kpi_value::text from marts_pending.fct_kpi_values "
    pending += "where source_file_name = 'sales_fr_2026-11-05.csv' order by 1"
    assert deployment.query(pending) == [("250",), ("321.5",)]
    with connection_info(deployment.settings).connect() as conn:
        conn.execute("set role rempart_analyst")
        assert len(conn.execute(pending).fetchall()) == 2
    with connection_info(deployment.settings).connect() as conn:
        conn.execute("set role rempart_viewer_sales")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(pending)
    [(passed, published, failures)] = deployment.query(
        "select passed, published, failures from marts.pipeline_builds "
        "order by finished_at desc limit 1"
    )
    assert (passed, published) == (False, False)
    assert "test assert_kpi_values_fit_their_unit: fail" in failures
    [(audited,)] = deployment.query(
        "select details -> 'build' -> 'failures' from audit.events "
        "where action = 'pipeline_run' order by event_id desc limit 1"
    )
    assert "test assert_kpi_values_fit_their_unit: fail" in audited

    corrected = SALES_HEADER + "05/11/2026;Ventes;Boissons;Café;taux_conversion;2,5;%\n"
    (deployment.inbox / "sales_fr_2026-11-05-corrected.csv").write_text(corrected)
    passed_run = _rempart_run(deployment)
    assert passed_run.returncode == 0, passed_run.stderr[-3000:]
    assert "Unable to do partial parsing" not in passed_run.stderr
    # Published, the build of what new data reaches counts as complete: later builds test
    # only the rows landed after it.
    assert deployment.query(
        "select passed from intermediate.dbt_build_runs order by started_at desc limit 1"
    ) == [(True,)]
    assert deployment.query(
        "select source_file_name, kpi_code, kpi_value::text from marts.fct_kpi_values "
        "where measured_on = '2026-11-05' order by kpi_code"
    ) == [
        ("sales_fr_2026-11-05.csv", "chiffre_affaires", "321.5"),
        ("sales_fr_2026-11-05-corrected.csv", "taux_conversion", "2.5"),
    ]
    assert _published_state(deployment) != before
    # Published row for row as built, with the policies and indexes dbt gave the pending marts.
    assert deployment.query(
        "select count(*) from (select * from marts.fct_kpi_values "
        "except select * from marts_pending.fct_kpi_values) as published_only"
    ) == [(0,)]
    assert deployment.query(
        "select (select count(*) from marts.fct_kpi_values) "
        "= (select count(*) from marts_pending.fct_kpi_values)"
    ) == [(True,)]
    assert _security_of(deployment, "marts") == _security_of(deployment, "marts_pending")
    assert _departments_seen_by(deployment, "rempart_viewer_sales") == {"sales"}
    assert _departments_seen_by(deployment, "rempart_viewer_support") == {"support"}
    assert len(_departments_seen_by(deployment, "rempart_analyst")) > 1


def test_history_and_next_years_plan_extend_the_calendar(deployment: Deployment) -> None:
    """Files dated 2015 and 2031, outside the default calendar, pass the next build."""
    for name, day in (
        ("sales_fr_2015-03.csv", "14/03/2015"),
        ("sales_fr_2031-03.csv", "14/03/2031"),
    ):
        (deployment.inbox / name).write_text(
            SALES_HEADER + f"{day};Ventes;Boissons;Café;chiffre_affaires;42,5;EUR\n"
        )
    result = _rempart_run(deployment)
    assert result.returncode == 0, result.stderr[-3000:]
    assert deployment.query(
        "select measured_on::text, kpi_value::text from marts.fct_kpi_values "
        "where extract(year from measured_on) in (2015, 2031) order by 1"
    ) == [("2015-03-14", "42.5"), ("2031-03-14", "42.5")]
    assert deployment.query(
        "select min(date_day)::text, max(date_day)::text from marts.dim_dates"
    ) == [("2015-01-01", "2032-12-31")]


def test_a_seed_that_gained_a_column_since_it_was_loaded_is_loaded_afresh(
    deployment: Deployment,
) -> None:
    """An installation that loaded departments.csv before it had main_kpi_code: `dbt seed`
    alone would fail on the missing column at every run ("column ... does not exist"); the
    run reloads the seed in full, and the column is there again down to the marts."""
    if not deployment.query("select to_regclass('marts.dim_departments')")[0][0]:
        (deployment.inbox / "sales_fr_2026-06.csv").write_text(
            SALES_HEADER + "14/06/2026;Ventes;Boissons;Café;chiffre_affaires;42,5;EUR\n"
        )
        first = _rempart_run(deployment)
        assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    with connection_info(deployment.settings).connect() as conn:
        conn.execute("alter table seeds.departments drop column main_kpi_code cascade")
    result = run_rempart("run", "--force", env=deployment.env, check=False, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert deployment.query(
        "select department, main_kpi_code from marts.dim_departments order by 1"
    ) == [
        ("operations", "unites_vendues"),
        ("sales", "chiffre_affaires"),
        ("support", "satisfaction_score"),
    ]


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


def _samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    [family] = [f for f in text_string_to_metric_families(text) if f.name == name]
    return {tuple(sorted(s.labels.items())): s.value for s in family.samples}


def test_operators_metrics_give_what_the_database_holds(deployment: Deployment) -> None:
    """After the runs above (landed, rejected, failed, watched), `rempart metrics` serves the
    figures the database holds, in a format promtool accepts."""
    text = run_rempart("metrics", "--once", env=deployment.env).stdout
    checked = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr

    files = deployment.query(
        "select coalesce(source_kind, 'unclassified'), file_status, count(*), "
        "coalesce(sum(landed_row_count), 0) from intermediate.int_files_classified group by 1, 2"
    )
    assert _samples(text, "rempart_source_files") == {
        (("source", source), ("status", status)): count for source, status, count, _ in files
    }
    landed: dict[tuple, float] = {}
    for source, _, _, rows in files:
        landed[(("source", source),)] = landed.get((("source", source),), 0) + rows
    assert _samples(text, "rempart_source_rows_landed") == landed
    assert _samples(text, "rempart_source_rows_rejected") == {
        (("reason", reason), ("source", source)): count
        for source, reason, count in deployment.query(
            "select source_kind, rejection_reason, count(*) from marts.dq_rejected_rows "
            "group by 1, 2"
        )
    }
    outcomes = dict(
        deployment.query(
            "select details ->> 'outcome', count(*) from audit.events "
            "where action = 'pipeline_run' group by 1"
        )
    )
    runs = _samples(text, "rempart_runs")
    assert {k[0][1]: v for k, v in runs.items() if v} == outcomes
    assert outcomes["build_failed"] and outcomes["success"]
    [(last_outcome,)] = deployment.query(
        "select details ->> 'outcome' from audit.events where action = 'pipeline_run' "
        "order by event_id desc limit 1"
    )
    assert _samples(text, "rempart_last_run_outcome")[(("outcome", last_outcome),)] == 1
    [(published,)] = deployment.query(
        "select extract(epoch from max(published_at))::float from intermediate.rempart_publications"
    )
    assert _samples(text, "rempart_last_publish_timestamp_seconds") == {(): published}
    assert (
        _samples(text, "rempart_source_expected_every_seconds")[(("source", "sales_fr"),)]
        == 35 * 86400
    )

    # Served: on 127.0.0.1 only, behind its bearer token when asked.
    port = free_port()
    env = {**deployment.env, "REMPART_METRICS_TOKEN": "true"}
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "rempart"), "metrics", "--port", str(port)],
        cwd=PROJECT_DIR,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert "serving http://127.0.0.1" in (server.stdout.readline() if server.stdout else "")
        token = SecretStore(deployment.settings.secrets_dir).get("metrics_token")
        url = f"http://127.0.0.1:{port}/metrics"
        assert httpx.get(url).status_code == 401
        assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert httpx.get(f"http://127.0.0.1:{port}/", headers={}).status_code == 404
        served = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
        assert served.status_code == 200 and served.headers["content-type"].startswith("text/")
        assert _samples(served.text, "rempart_source_files") == _samples(
            text, "rempart_source_files"
        )
        listening = {
            c.laddr
            for c in psutil.Process(server.pid).net_connections("inet")
            if c.status == "LISTEN"
        }
        assert listening == {("127.0.0.1", port)}
    finally:
        server.terminate()
        server.wait(timeout=30)
