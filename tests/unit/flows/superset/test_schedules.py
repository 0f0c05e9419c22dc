"""The declarations of alerts and reports, expanded and checked before Superset sees them."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.runtime.settings import PROJECT_DIR
from flows.seeds.departments import department_slugs
from flows.seeds.recipients import RecipientError, recipients_by_audience
from flows.superset.accounts import DATA_STEWARDS_REPORT_ACCOUNT, report_account
from flows.superset.schedules import DeclarationError, declared_schedules


def _declarations(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "alerts_reports.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_committed_declarations_expand_per_department_with_their_recipients() -> None:
    schedules = declared_schedules()
    departments = department_slugs(PROJECT_DIR)
    audiences = recipients_by_audience()
    weekly = [s for s in schedules if s["name"].startswith("Weekly KPI overview")]
    assert sorted(s["owner"] for s in weekly) == sorted(map(report_account, departments))
    for schedule in weekly:
        department = next(d for d in departments if schedule["owner"] == report_account(d))
        assert schedule["recipients"] == [
            {"type": "Email", "target": ",".join(r["target"] for r in audiences[department])}
        ]
        assert schedule["report_format"] == "PDF" and schedule["dashboard_uuid"]
    stewards = [s for s in schedules if s["owner"] == DATA_STEWARDS_REPORT_ACCOUNT]
    assert {s["name"] for s in stewards} >= {"Daily data quality", "Daily rejected rows"}
    alerts = [s for s in schedules if s["type"] == "Alert"]
    assert alerts and all(a["sql"] and a["validator_config"]["op"] for a in alerts)
    assert len({(s["name"], s["type"]) for s in schedules}) == len(schedules)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("    dashboard: kpi_overview\n    chart: anomalies\n", "either a dashboard or a chart"),
        ("    dashboard: no_such_dashboard\n", "no superset/assets/dashboards"),
        ("    dashboard: kpi_overview\n    format: CSV\n", "CSV for a chart"),
        ("    dashboard: kpi_overview\n    schedule: every monday\n", "no cron expression"),
        ("    dashboard: kpi_overview\n    colour: red\n", "unknown key(s) colour"),
        ("    dashboard: kpi_overview\n    sql: select 1\n", "are for alerts"),
    ],
)
def test_a_wrong_report_is_refused_with_its_name_and_the_reason(
    tmp_path: Path, entry: str, message: str
) -> None:
    text = "reports:\n  - name: Broken\n    run_as: data_stewards\n"
    text += entry if "schedule" in entry else entry + '    schedule: "0 7 * * 1"\n'
    with pytest.raises(DeclarationError, match="Broken") as error:
        declared_schedules(declarations=_declarations(tmp_path, text))
    assert message in str(error.value)


def test_an_alert_needs_sql_and_a_condition(tmp_path: Path) -> None:
    text = (
        "alerts:\n  - name: Vague\n    run_as: data_stewards\n    chart: anomalies\n"
        '    schedule: "0 * * * *"\n    sql: select 1\n'
    )
    with pytest.raises(DeclarationError, match="needs sql and a condition"):
        declared_schedules(declarations=_declarations(tmp_path, text))


def test_a_report_for_no_one_in_particular_is_refused(tmp_path: Path) -> None:
    text = 'reports:\n  - name: Whose\n    dashboard: kpi_overview\n    schedule: "0 7 * * 1"\n'
    with pytest.raises(DeclarationError, match="for_each: department"):
        declared_schedules(declarations=_declarations(tmp_path, text))


def test_a_webhook_must_be_https(tmp_path: Path) -> None:
    seed = tmp_path / "report_recipients.csv"
    seed.write_text("audience,channel,target\nsales,webhook,http://hooks.example/x\n")
    with pytest.raises(RecipientError, match="line 2: a webhook must be https://"):
        recipients_by_audience(seed)
