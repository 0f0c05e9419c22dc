"""Sources declared by seed lines alone: long and wide files, CSV, workbooks and JSON, French
and English headers, reach the marts after one run with no model written; a file no source
claims waits, named in the data-quality mart, until `rempart sources suggest` declares it.

The installation runs from a copy of the project, so the test adds seed lines as a person
would (in seeds/*.csv) without touching the repository.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from flows.runtime.database import connection_info, temporary_server
from flows.runtime.settings import PROJECT_DIR, Settings, load_settings
from tests.conftest import add_seed_lines, copy_project, isolated_environment, run_project

# Runs the whole pipeline (or a whole installation): not in `make test-fast`.
pytestmark = pytest.mark.slow

OTHER_TOOLS = PROJECT_DIR / "tests" / "fixtures" / "other_tools"

SEED_LINES = {
    "source_kinds.csv": [
        # long, French headers, semicolons, day-first dates, decimal commas
        r'boutique_kpis,^boutique_kpis_.*\.csv$,dmy,",",35,365,keep,long,sales,Shop KPIs',
        # long, English headers, the same workbook as LibreOffice and Gnumeric wrote it
        # (tests/fixtures/other_tools): an .xlsx and an .ods in one batch
        r"office_kpis,^(libreoffice\.xlsx|gnumeric\.ods)$,ymd,.,35,365,keep,long,,Office KPIs",
        # wide, JSON records, the department in a `service` key
        r"call_centre,^call_centre_.*\.json$,ymd,.,35,365,keep,wide,support,Calls per day",
        # wide, French headers, no department column: the source's department
        r"entrepot,^entrepot_.*\.xlsx$,dmy,.,35,365,keep,wide,operations,Warehouse per day",
    ],
    "kpi_definitions.csv": [
        "visites,Visites,boutique_kpis,visits,higher_is_better,sum,,drop,Shop visits",
        "taux_rebond,Taux de rebond,boutique_kpis,%,lower_is_better,avg,,drop,Bounce rate",
        "revenue,Revenue,office_kpis,EUR,higher_is_better,sum,,drop,Revenue",
        "units,Units,office_kpis,units,higher_is_better,sum,,drop,Units",
        "appels,Calls,call_centre,calls,higher_is_better,sum,,drop,Calls answered",
        "abandons,Abandoned calls,call_centre,calls,lower_is_better,sum,,zero,Calls abandoned",
        "colis_expedies,Parcels shipped,entrepot,parcels,higher_is_better,sum,,drop,Parcels",
        "retours,Returns,entrepot,parcels,lower_is_better,sum,,zero,Parcels returned",
    ],
    "kpi_columns.csv": [
        "call_centre,appels,appels",
        "call_centre,abandons,abandons",
        "entrepot,colis expédiés,colis_expedies",
        "entrepot,retours,retours",
    ],
}


@dataclass
class Installation:
    project: Path
    settings: Settings
    env: dict[str, str]

    @property
    def inbox(self) -> Path:
        return Path(self.env["REMPART_INBOX_DIR"])

    def rempart(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_project(self.project, *args, env=self.env)

    def run(self) -> None:
        done = self.rempart("run")
        assert done.returncode in (0, 3), done.stdout[-3000:] + done.stderr[-3000:]

    def query(self, statement: str, *params: object) -> list[tuple]:
        with connection_info(self.settings).connect() as conn:
            return conn.execute(statement, params or None).fetchall()


def _write_files(inbox: Path) -> None:
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / "boutique_kpis_2026-10.csv").write_text(
        "Date;Indicateur;Valeur;Département\n"
        "01/10/2026;visites;1 204;Ventes\n"
        "01/10/2026;Taux de rebond;41,5;Ventes\n"
        "13/10/2026;visites;980;Support client\n"
        "14/10/2026;visites;n/a;Ventes\n",
        encoding="utf-8",
    )
    for name in ("libreoffice.xlsx", "gnumeric.ods"):
        shutil.copyfile(OTHER_TOOLS / name, inbox / name)
    (inbox / "call_centre_2026-10.json").write_text(
        json.dumps(
            [
                {"date": "2026-10-01", "service": "Support client", "appels": 120, "abandons": 7},
                {"date": "2026-10-02", "service": "support", "appels": 98, "abandons": None},
            ]
        ),
        encoding="utf-8",
    )
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Octobre"
    sheet.append(["Jour", "Colis expédiés", "Retours"])
    sheet.append(["01/10/2026", 310, 4])
    sheet.append(["02/10/2026", 295, None])
    workbook.save(inbox / "entrepot_2026-10.xlsx")
    # Headers that fit both long sources (generic headers, a department): never guessed.
    (inbox / "export_final.csv").write_text(
        "date,kpi,value,department\n2026-10-05,visites,12,ventes\n", encoding="utf-8"
    )
    # A shape of its own: no source fits; `rempart sources suggest` declares it.
    (inbox / "magasin_lyon_2026-10.csv").write_text(
        "Jour;Nombre de visiteurs;Panier moyen;Magasin\n"
        "21/10/2026;312;24,10;Lyon Part-Dieu\n"
        "22/10/2026;287;25,35;Lyon Part-Dieu\n",
        encoding="utf-8",
    )


@pytest.fixture(scope="module")
def installation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installation]:
    work = tmp_path_factory.mktemp("generic-sources")
    project = copy_project(work / "project")
    with temporary_server(load_settings()) as scratch:
        env = {
            **isolated_environment(scratch.state_dir, work),
            "REMPART_SUPERSET_SYNC": "false",
        }
        done = Installation(project, scratch, env)
        for seed, lines in SEED_LINES.items():
            add_seed_lines(project, seed, lines)
        _write_files(done.inbox)
        done.run()
        yield done


def test_long_and_wide_files_reach_the_marts_with_seed_lines_only(
    installation: Installation,
) -> None:
    values = installation.query(
        "select source_kind, measured_on::text, kpi_code, department, kpi_value "
        "from marts.fct_kpi_values where source_kind not in "
        "('sales_fr', 'hr_headcount', 'support_tickets') order by 1, 2, 3, 4"
    )
    assert values == [
        ("boutique_kpis", "2026-10-01", "taux_rebond", "sales", Decimal("41.5")),
        ("boutique_kpis", "2026-10-01", "visites", "sales", Decimal("1204")),
        ("boutique_kpis", "2026-10-13", "visites", "support", Decimal("980")),
        ("call_centre", "2026-10-01", "abandons", "support", Decimal("7")),
        ("call_centre", "2026-10-01", "appels", "support", Decimal("120")),
        # an empty cell of a KPI whose missing values mean none
        ("call_centre", "2026-10-02", "abandons", "support", Decimal("0")),
        ("call_centre", "2026-10-02", "appels", "support", Decimal("98")),
        ("entrepot", "2026-10-01", "colis_expedies", "operations", Decimal("310")),
        ("entrepot", "2026-10-01", "retours", "operations", Decimal("4")),
        ("entrepot", "2026-10-02", "colis_expedies", "operations", Decimal("295")),
        ("entrepot", "2026-10-02", "retours", "operations", Decimal("0")),
        ("office_kpis", "2026-09-01", "revenue", "sales", Decimal("1234.5")),
        ("office_kpis", "2026-09-02", "revenue", "sales", Decimal("99.99")),
        ("office_kpis", "2026-09-03", "units", "support", Decimal("7")),
    ]
    # Both tools' files gave every office value, alike: the later one won, the same number.
    assert installation.query(
        "select count(*), bool_and(version_number = 2 and previous_value = kpi_value) "
        "from marts.fct_kpi_values where source_kind = 'office_kpis'"
    ) == [(3, True)]
    summary = installation.query(
        "select kpi_code, department, value_sum from marts.kpi_daily_summary "
        "where measured_on = '2026-10-01' and kpi_code in ('visites', 'appels', 'colis_expedies') "
        "order by 1"
    )
    assert summary == [
        ("appels", "support", Decimal("120")),
        ("colis_expedies", "operations", Decimal("310")),
        ("visites", "sales", Decimal("1204")),
    ]


def test_what_cannot_be_read_is_rejected_with_its_reason_not_dropped(
    installation: Installation,
) -> None:
    rejected = installation.query(
        "select file_name, row_number, rejected_column, rejection_reason, rejected_value "
        "from marts.dq_rejected_rows where file_name in "
        "('boutique_kpis_2026-10.csv', 'libreoffice.xlsx', 'gnumeric.ods') "
        "and sheet_name <> 'Notes' "
        "order by 1, 2"
    )
    assert rejected == [
        ("boutique_kpis_2026-10.csv", 5, "value", "unparseable_number", "n/a"),
        # the merged row: a KPI no one declared
        ("gnumeric.ods", 5, "kpi_code", "unknown_kpi", "note"),
        ("libreoffice.xlsx", 5, "kpi_code", "unknown_kpi", "note"),
    ]


def test_a_file_whose_headers_fit_two_sources_is_not_guessed(installation: Installation) -> None:
    assert installation.query(
        "select candidate_source_kinds, unclassified_reason, headers "
        "from marts.dq_unclassified_files where file_name = 'export_final.csv'"
    ) == [
        (
            "boutique_kpis, office_kpis",
            "its headers fit several sources: boutique_kpis, office_kpis",
            "date, kpi, value, department",
        )
    ]
    assert installation.query(
        "select count(*) from marts.fct_kpi_values where source_file_name = 'export_final.csv'"
    ) == [(0,)]


def test_an_unclassified_file_lands_once_its_suggested_seed_lines_are_added(
    installation: Installation,
) -> None:
    name = "magasin_lyon_2026-10.csv"
    assert installation.query(
        "select source_kind, headers from marts.dim_data_sources where file_name = %s", name
    ) == [("unclassified", "Jour, Nombre de visiteurs, Panier moyen, Magasin")]
    assert installation.query(
        "select unclassified_reason, suggestion from marts.dq_unclassified_files "
        "where file_name = %s",
        name,
    ) == [("no source name pattern or headers fit it", f"rempart sources suggest {name}")]

    printed = installation.rempart("sources", "suggest", name, "--department", "sales")
    assert printed.returncode == 0, printed.stderr
    assert 'magasin_lyon,^magasin_lyon.*\\.csv$,dmy,",",35,365,keep,wide,sales,' in printed.stdout
    assert "nombre_de_visiteurs,Nombre de visiteurs,magasin_lyon," in printed.stdout
    assert "columns no model reads" in printed.stdout and "Magasin" in printed.stdout
    seeds_before = (installation.project / "seeds" / "kpi_definitions.csv").read_text()

    written = installation.rempart("sources", "suggest", name, "--department", "sales", "--write")
    assert written.returncode == 0, written.stderr
    kpi_lines = (installation.project / "seeds" / "kpi_definitions.csv").read_text()[
        len(seeds_before) :
    ]
    # panier_moyen is the sales source's KPI: the new one gets a code of its own
    assert kpi_lines.splitlines()[1].startswith("magasin_lyon_panier_moyen,Panier moyen,")

    installation.run()
    assert installation.query(
        "select measured_on::text, kpi_code, department, kpi_value from marts.fct_kpi_values "
        "where source_file_name = %s order by 1, 2",
        name,
    ) == [
        ("2026-10-21", "magasin_lyon_panier_moyen", "sales", Decimal("24.10")),
        ("2026-10-21", "nombre_de_visiteurs", "sales", Decimal("312")),
        ("2026-10-22", "magasin_lyon_panier_moyen", "sales", Decimal("25.35")),
        ("2026-10-22", "nombre_de_visiteurs", "sales", Decimal("287")),
    ]
    assert installation.query(
        "select count(*) from marts.dq_unclassified_files where file_name = %s", name
    ) == [(0,)]
    assert installation.query(
        "select source_kind, rows_accepted from marts.dq_file_quality where file_name = %s", name
    ) == [("magasin_lyon", 2)]


def test_suggest_refuses_a_file_it_cannot_describe_with_a_clear_message(
    installation: Installation,
) -> None:
    done = installation.rempart("sources", "suggest", "no_such_file.csv")
    assert done.returncode != 0
    assert "no landed file is named no_such_file.csv" in done.stderr
    assert "Traceback" not in done.stderr
