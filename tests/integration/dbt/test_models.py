"""The dbt project on real landed files, in a warehouse of its own: every rule on real rows."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from flows.names import TRANSFORMER_ROLE
from flows.runtime.database import connection_info, role_connection, temporary_server
from flows.runtime.secrets import SecretStore
from flows.runtime.settings import PROJECT_DIR, Settings, load_settings
from flows.runtime.tools import tool_environment
from flows.warehouse.landing import ingest
from flows.warehouse.provision import prepare_database

EXAMPLES = PROJECT_DIR / "data" / "examples" / "files"
DBT = Path(sys.executable).parent / "dbt"

# A November export: every date and number format the sales source may use, values the
# quality mart must report, and corrections of values the October file already gave.
NOVEMBER_SALES = (
    "date_mesure;département;catégorie;sous_catégorie;indicateur;valeur;unité;commentaire\r\n"
    "01/11/2026;Ventes;Boissons;Café;chiffre_affaires;1 234,56 €;EUR;\r\n"
    "2026-11-02;ventes ;épicerie;Conserves;taux_conversion;3,45 %;%;\r\n"
    "46330;VENTES;Frais;Crèmerie;chiffre_affaires;1.234,56;EUR;serial date\r\n"
    "03/11/2026;Ventes;Frais;Crèmerie;unites_vendues;1\u00a0000\u00a0000;unités;nbsp\r\n"
    "04/11/2026;Opérations;Frais;Crèmerie;panier_moyen;-3,5;EUR;\r\n"
    "31/11/2026;Ventes;Frais;Crèmerie;chiffre_affaires;5;EUR;impossible date\r\n"
    "05/11/2026;Ventes;Frais;Crèmerie;chiffre_affaires;douze;EUR;not a number\r\n"
    "05/11/2026;Marketing;Frais;Crèmerie;chiffre_affaires;12;EUR;unknown department\r\n"
    "30/09/2026;Ventes;Boissons;Café;chiffre_affaires;9 999,99;EUR;second correction\r\n"
)


@dataclass
class Warehouse:
    settings: Settings
    target: Path
    logs: Path

    def dbt(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            **tool_environment(self.settings),
            "DBT_TARGET_PATH": str(self.target),
            "DBT_LOG_PATH": str(self.logs),
        }
        env.pop("REMPART_DATABASE_URL", None)
        completed = subprocess.run(
            [str(DBT), *args],
            cwd=PROJECT_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if check and completed.returncode != 0:
            raise AssertionError(f"dbt {' '.join(args)} failed:\n{completed.stdout[-6000:]}")
        return completed

    def land(self, *files: Path) -> None:
        inbox = self.settings.inbox_dir
        inbox.mkdir(parents=True, exist_ok=True)
        copies = [Path(shutil.copy(file, inbox / file.name)) for file in files]
        results = ingest(self.settings, copies)
        assert [r.status for r in results] == ["landed"] * len(files), results

    def query(self, statement: str, *params: object) -> list[tuple]:
        with connection_info(self.settings).connect() as conn:
            return conn.execute(statement, params or None).fetchall()

    def rows_affected(self, model: str) -> int:
        results = json.loads((self.target / "run_results.json").read_text())
        [node] = [r for r in results["results"] if r["unique_id"] == f"model.rempart.{model}"]
        return int(node["adapter_response"]["rows_affected"])


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    """The demo files landed and built, from an empty database."""
    work = tmp_path_factory.mktemp("warehouse")
    with temporary_server(load_settings()) as scratch:
        settings = scratch.model_copy(
            update={
                "inbox_dir": work / "inbox",
                "archive_dir": work / "archive",
                "quarantine_dir": work / "quarantine",
            }
        )
        prepare_database(settings)
        built = Warehouse(settings, work / "target", work / "logs")
        built.land(*sorted(EXAMPLES.iterdir()))
        built.dbt("build")
        yield built


@pytest.fixture(scope="module")
def after_november(warehouse: Warehouse, tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """One more file, then an incremental build."""
    november = tmp_path_factory.mktemp("november") / "sales_fr_2026-11.csv"
    november.write_bytes(NOVEMBER_SALES.encode("cp1252"))
    warehouse.land(november)
    warehouse.dbt("build")
    return warehouse


def test_demo_files_build_into_every_mart(warehouse: Warehouse) -> None:
    counts = dict(
        warehouse.query(
            "select source_kind, count(*) from marts_pending.fct_kpi_values group by source_kind"
        )
    )
    assert set(counts) == {"sales_fr", "hr_headcount", "support_tickets"}
    assert counts["sales_fr"] > 1500
    for mart in (
        "kpi_daily_summary",
        "dim_kpis",
        "dim_departments",
        "dim_data_sources",
        "dq_file_quality",
        "dq_source_quality",
        "dq_rejected_rows",
    ):
        assert warehouse.query(f"select count(*) from marts_pending.{mart}")[0][0] > 0, mart


def test_rejected_values_of_the_demo_files_are_in_the_quality_mart(warehouse: Warehouse) -> None:
    rejected = warehouse.query(
        "select file_name, row_number, rejection_reason, rejected_value "
        "from marts_pending.dq_rejected_rows order by file_name, row_number"
    )
    assert ("sales_fr_2026-09.csv", 964, "invalid_date", "31/09/2026") in rejected
    assert ("sales_fr_2026-09.csv", 758, "unparseable_number", "n/a") in rejected
    assert ("sales_fr_2026-10.csv", 686, "unparseable_number", "12,5,3") in rejected
    assert ("support_tickets_2026-10.jsonl", 60, "invalid_date", "2026-13-01T10:00:00Z") in rejected
    per_file = dict(
        warehouse.query("select file_name, rejections_by_reason from marts_pending.dq_file_quality")
    )
    assert per_file["sales_fr_2026-09.csv"] == {
        "invalid_date": 1,
        "missing_value": 2,
        "unparseable_number": 1,
    }


def test_october_restatement_wins_over_september(warehouse: Warehouse) -> None:
    [(value, source, previous_source, version)] = warehouse.query(
        "select fct.kpi_value, fct.source_file_name, previous.file_name, fct.version_number "
        "from marts_pending.fct_kpi_values as fct "
        "join marts_pending.dim_data_sources as previous "
        "on previous.file_id = fct.previous_source_file_id "
        "where fct.measured_on = '2026-09-28' and fct.kpi_code = 'chiffre_affaires' "
        "and fct.department = 'sales' and fct.subcategory = 'Café'"
    )
    assert (source, previous_source, version) == ("sales_fr_2026-10.csv", "sales_fr_2026-09.csv", 2)
    assert value > 0


def test_duplicated_tickets_and_employee_weeks_count_once(warehouse: Warehouse) -> None:
    # T-000120 appears twice in September; T-000111 is re-exported in October.
    tickets = warehouse.query(
        "select sum(kpi_value) from marts_pending.fct_kpi_values where kpi_code = 'tickets_opened'"
    )[0][0]
    distinct = warehouse.query(
        "select count(distinct ticket_id) from intermediate.int_tickets_parsed "
        "where rejection_reason is null"
    )[0][0]
    assert tickets == distinct


def test_incremental_build_touches_only_the_new_file(after_november: Warehouse) -> None:
    warehouse = after_november
    new_rows = warehouse.query(
        "select count(*) from marts_pending.fct_kpi_values "
        "where source_file_name = 'sales_fr_2026-11.csv'"
    )[0][0]
    assert new_rows == 6  # nine rows: three rejected
    assert warehouse.rows_affected("fct_kpi_values") == new_rows
    assert warehouse.rows_affected("dq_file_quality") == 1
    assert warehouse.rows_affected("dq_rejected_rows") == 3


def test_kpi_definitions_reach_the_summary_already_built(after_november: Warehouse) -> None:
    """The summary copies each KPI's name, unit, aggregation and target: a copy that differs
    from the definition, or a definition column the table lacks (an upgrade), is recomputed."""
    warehouse = after_november

    def alter(statement: str) -> None:
        with connection_info(warehouse.settings).connect() as conn:
            conn.execute(statement)

    def stale_rows() -> int:
        return warehouse.query(
            "select count(*) from marts_pending.kpi_daily_summary as summary "
            "join marts_pending.dim_kpis as kpis using (kpi_code) "
            "where (summary.kpi_name, summary.unit, summary.aggregation, summary.daily_target) "
            "is distinct from (kpis.kpi_name, kpis.unit, kpis.aggregation, kpis.daily_target)"
        )[0][0]

    alter(
        "update marts_pending.kpi_daily_summary set daily_target = 1 "
        "where kpi_code = 'chiffre_affaires'"
    )
    edited = stale_rows()
    assert edited > 0
    warehouse.dbt("build")
    assert warehouse.rows_affected("kpi_daily_summary") == edited
    assert stale_rows() == 0

    alter("alter table marts_pending.kpi_daily_summary drop column aggregation")
    summarised = warehouse.query("select count(*) from marts_pending.kpi_daily_summary")[0][0]
    warehouse.dbt("build")
    assert warehouse.rows_affected("kpi_daily_summary") == summarised
    assert stale_rows() == 0

    warehouse.dbt("build")
    assert warehouse.rows_affected("kpi_daily_summary") == 0


def test_every_parse_format_on_real_rows(after_november: Warehouse) -> None:
    values = dict(
        after_november.query(
            "select measured_on::text || ' ' || kpi_code || ' ' || department, kpi_value "
            "from marts_pending.fct_kpi_values where source_file_name = 'sales_fr_2026-11.csv'"
        )
    )
    assert values == {
        "2026-11-01 chiffre_affaires sales": Decimal("1234.56"),
        "2026-11-02 taux_conversion sales": Decimal("3.45"),
        "2026-11-03 unites_vendues sales": Decimal("1000000"),
        "2026-11-04 panier_moyen operations": Decimal("-3.5"),
        "2026-11-04 chiffre_affaires sales": Decimal("1234.56"),  # Excel serial 46330
        "2026-09-30 chiffre_affaires sales": Decimal("9999.99"),
    }
    rejected = after_november.query(
        "select row_number, rejection_reason, rejected_value from marts_pending.dq_rejected_rows "
        "where file_name = 'sales_fr_2026-11.csv' order by row_number"
    )
    assert rejected == [
        (7, "invalid_date", "31/11/2026"),
        (8, "unparseable_number", "douze"),
        (9, "unknown_department", "marketing"),
    ]


def test_last_write_wins_across_three_files_and_every_version_is_kept(
    after_november: Warehouse,
) -> None:
    key = (
        "measured_on = '2026-09-30' and kpi_code = 'chiffre_affaires' "
        "and department = 'sales' and subcategory = 'Café'"
    )
    [(value, previous_file, version)] = after_november.query(
        "select kpi_value, previous.file_name, version_number from marts_pending.fct_kpi_values "
        "join marts_pending.dim_data_sources as previous "
        "on previous.file_id = previous_source_file_id "
        f"where {key}"
    )
    assert (value, previous_file, version) == (Decimal("9999.99"), "sales_fr_2026-10.csv", 3)
    versions = after_november.query(
        "select source_file_name, dbt_valid_to is null from snapshots.snap_kpi_values "
        f"where {key} order by dbt_valid_from"
    )
    assert versions == [("sales_fr_2026-10.csv", False), ("sales_fr_2026-11.csv", True)]


def test_pseudonyms_are_keyed_hmacs_and_stable(warehouse: Warehouse) -> None:
    key = SecretStore(warehouse.settings.secrets_dir).get_bytes("pseudonymisation_key")
    expected = hmac.new(key, b"emp-1001", hashlib.sha256).hexdigest()[:32]
    keys = warehouse.query(
        "select distinct employee_key from intermediate.int_headcount_rows_parsed "
        "where employee_key = %s",
        expected,
    )
    assert keys == [(expected,)]
    masked = warehouse.query(
        "select distinct email_masked from intermediate.int_headcount_rows_parsed "
        "where email_masked like 'c***@%%'"
    )
    assert ("c***@rempart-demo.example",) in masked


def test_the_pii_test_fails_when_a_mart_holds_clear_pii(warehouse: Warehouse) -> None:
    transformer = role_connection(warehouse.settings, TRANSFORMER_ROLE)
    with transformer.connect(autocommit=True) as conn:
        conn.execute(
            "create table marts_pending.leaky_contacts as "
            "select 'Camille Morel'::text as employee, 'x'::text as note"
        )
    try:
        failed = warehouse.dbt("test", "--select", "assert_no_clear_pii_in_marts", check=False)
        assert failed.returncode == 1
        assert "FAIL 1 assert_no_clear_pii_in_marts" in failed.stdout
    finally:
        with transformer.connect(autocommit=True) as conn:
            conn.execute("drop table marts_pending.leaky_contacts")
    assert warehouse.dbt("test", "--select", "assert_no_clear_pii_in_marts").returncode == 0


def test_the_pseudonymisation_key_is_never_in_target_or_logs(warehouse: Warehouse) -> None:
    from loaders.schema import key_pads

    key = SecretStore(warehouse.settings.secrets_dir).get_bytes("pseudonymisation_key")
    inner, outer = key_pads(key)
    secrets = [key.hex(), key.hex().upper(), inner.hex(), outer.hex()]
    scanned = 0
    for folder in (warehouse.target, warehouse.logs):
        for path in folder.rglob("*"):
            if path.is_file():
                content = path.read_bytes()
                scanned += 1
                assert key not in content, path
                for secret in secrets:
                    assert secret.encode() not in content, path
    assert scanned > 10


def test_every_model_documented_and_keyed_and_lineage_reaches_the_marts(
    warehouse: Warehouse,
) -> None:
    warehouse.dbt("docs", "generate")
    manifest = json.loads((warehouse.target / "manifest.json").read_text())
    catalog = json.loads((warehouse.target / "catalog.json").read_text())
    models = {
        uid: node for uid, node in manifest["nodes"].items() if node["resource_type"] == "model"
    }
    tested = {
        node["attached_node"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test"
        and node.get("test_metadata", {}).get("name")
        in ("unique", "primary_key", "unique_combination")
    }
    for uid, node in models.items():
        assert node["description"], f"{uid} has no description"
        assert uid in tested, f"{uid} has no primary-key test"
        for column in catalog["nodes"].get(uid, {}).get("columns", {}):
            documented = node["columns"].get(column, {}).get("description")
            assert documented, f"{uid}.{column} is not described"
    ancestors: set[str] = set()
    frontier = ["model.rempart.fct_kpi_values"]
    while frontier:
        current = frontier.pop()
        for parent in manifest["parent_map"].get(current, []):
            if parent not in ancestors:
                ancestors.add(parent)
                frontier.append(parent)
    assert {
        "source.rempart.raw.records",
        "source.rempart.raw.files",
        "seed.rempart.header_aliases",
    } <= ancestors
