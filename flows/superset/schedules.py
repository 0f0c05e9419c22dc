"""Alerts and reports as code: superset/alerts_reports.yaml, made so in Superset.

`declared_schedules` reads the declarations and seeds/report_recipients.csv and expands them
into one schedule per department where asked, each owned by its report account; `apply`
hands them to superset/scripts/report_schedules.py, inside Superset's environment, which creates,
updates or removes Superset's schedules to match, and after a publication of the marts queues
the alerts marked `after_publish` for Superset's worker.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from flows.runtime.settings import PROJECT_DIR, Settings
from flows.seeds.departments import department_names, department_slugs
from flows.seeds.recipients import DATA_STEWARDS, RecipientError, recipients_by_audience
from flows.superset.accounts import DATA_STEWARDS_REPORT_ACCOUNT, report_account
from flows.superset.errors import SupersetError
from flows.superset.server import WAREHOUSE_NAME, SupersetServer

DECLARATIONS = PROJECT_DIR / "superset" / "alerts_reports.yaml"
ASSETS_DIR = PROJECT_DIR / "superset" / "assets"
SCHEDULES_SCRIPT = PROJECT_DIR / "superset" / "scripts" / "report_schedules.py"
FORMATS = {"PDF", "PNG", "CSV"}
OPERATORS = {"<", "<=", ">", ">=", "==", "!="}
WORKING_TIMEOUT_SECONDS = 600
LOG_RETENTION_DAYS = 90
_KEYS = {
    "name",
    "for_each",
    "run_as",
    "dashboard",
    "chart",
    "format",
    "schedule",
    "description",
    "after_publish",
    "grace_hours",
    "sql",
    "condition",
}


class DeclarationError(ValueError):
    """superset/alerts_reports.yaml says something wrong."""


@dataclass
class ScheduleReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    queued: list[str] = field(default_factory=list)  # alerts evaluated after a publication

    def summary(self) -> str:
        changed = [
            f"{label} {len(names)}"
            for label, names in (
                ("created", self.created),
                ("updated", self.updated),
                ("removed", self.removed),
            )
            if names
        ]
        return ", ".join(changed) or f"in sync ({self.unchanged})"


def _asset_uuid(kind: str, stem: str) -> str:
    path = ASSETS_DIR / f"{kind}s" / f"{stem}.yaml"
    if not path.exists():
        raise DeclarationError(f"{kind} {stem!r}: no {path.relative_to(PROJECT_DIR)}")
    return yaml.safe_load(path.read_text(encoding="utf-8"))["uuid"]


def _recipients(audience: str, audiences: dict[str, list[dict[str, str]]]) -> list[dict]:
    """Superset's recipients: one mail to every address of the audience, each webhook."""
    found = audiences.get(audience, [])
    mails = sorted(r["target"] for r in found if r["type"] == "Email")
    webhooks = [r for r in found if r["type"] == "Webhook"]
    return ([{"type": "Email", "target": ",".join(mails)}] if mails else []) + webhooks


def _schedule(
    entry: dict[str, Any], kind: str, timezone: str, audience: str, owner: str, names: dict
) -> dict[str, Any]:
    label = f"{kind} {entry.get('name')!r}"
    unknown = set(entry) - _KEYS
    if unknown:
        raise DeclarationError(f"{label}: unknown key(s) {', '.join(sorted(unknown))}")
    if ("dashboard" in entry) == ("chart" in entry):
        raise DeclarationError(f"{label}: name either a dashboard or a chart")
    report_format = str(entry.get("format", "PNG")).upper()
    if report_format not in FORMATS or (report_format == "CSV" and "chart" not in entry):
        raise DeclarationError(f"{label}: format is PDF or PNG, or CSV for a chart")
    # Checked in full by Superset's croniter (superset/scripts/report_schedules.py).
    if len(str(entry.get("schedule", "")).split()) != 5:
        raise DeclarationError(f"{label}: schedule {entry.get('schedule')!r} is no cron expression")
    name = str(entry["name"]).format(department=audience, department_name=names.get(audience, ""))
    schedule = {
        "name": name,
        "type": kind,
        "description": " ".join(str(entry.get("description", "")).split()),
        "crontab": entry["schedule"],
        "timezone": timezone,
        "report_format": report_format,
        "owner": owner,
        "email_subject": name,
        "grace_period": int(float(entry.get("grace_hours", 4)) * 3600),
        "working_timeout": WORKING_TIMEOUT_SECONDS,
        "log_retention": LOG_RETENTION_DAYS,
        "after_publish": bool(entry.get("after_publish", False)),
    }
    kind_of_asset = "dashboard" if "dashboard" in entry else "chart"
    try:
        schedule[f"{kind_of_asset}_uuid"] = _asset_uuid(kind_of_asset, entry[kind_of_asset])
    except DeclarationError as error:
        raise DeclarationError(f"{label}: {error}") from error
    if kind == "Alert":
        condition = entry.get("condition") or {}
        if not entry.get("sql") or condition.get("op") not in OPERATORS:
            raise DeclarationError(f"{label}: an alert needs sql and a condition {{op, threshold}}")
        schedule.update(
            sql=str(entry["sql"]).strip(),
            database=WAREHOUSE_NAME,
            validator_config={"op": condition["op"], "threshold": float(condition["threshold"])},
        )
    elif "sql" in entry or "condition" in entry or schedule["after_publish"]:
        raise DeclarationError(f"{label}: sql, condition and after_publish are for alerts")
    return schedule


def declared_schedules(
    project_dir: Path = PROJECT_DIR, declarations: Path = DECLARATIONS
) -> list[dict[str, Any]]:
    """Every schedule the declarations make, expanded per department, recipients resolved."""
    document = yaml.safe_load(declarations.read_text(encoding="utf-8")) or {}
    timezone = document.get("timezone", "UTC")
    try:
        audiences = recipients_by_audience(project_dir / "seeds" / "report_recipients.csv")
    except RecipientError as error:
        raise DeclarationError(str(error)) from error
    departments = department_slugs(project_dir)
    names = department_names(project_dir)
    unknown = set(audiences) - {*departments, DATA_STEWARDS}
    if unknown:
        raise DeclarationError(f"report_recipients.csv: unknown audience(s) {sorted(unknown)}")
    schedules = []
    for section, kind in (("reports", "Report"), ("alerts", "Alert")):
        for entry in document.get(section) or []:
            if entry.get("for_each") == "department":
                targets = [(slug, report_account(slug)) for slug in departments]
            elif entry.get("run_as") == DATA_STEWARDS and "for_each" not in entry:
                targets = [(DATA_STEWARDS, DATA_STEWARDS_REPORT_ACCOUNT)]
            else:
                raise DeclarationError(
                    f"{kind} {entry.get('name')!r}: say `for_each: department` or "
                    "`run_as: data_stewards`"
                )
            for audience, owner in targets:
                schedule = _schedule(entry, kind, timezone, audience, owner, names)
                schedule["recipients"] = _recipients(audience, audiences)
                schedules.append(schedule)
    seen = [(s["name"], s["type"]) for s in schedules]
    duplicates = {name for name, kind in seen if seen.count((name, kind)) > 1}
    if duplicates:
        raise DeclarationError(f"two schedules named {sorted(duplicates)}")
    return schedules


def apply(settings: Settings, evaluate: bool = False) -> ScheduleReport:
    """Make Superset's alerts and reports equal the declarations (Superset must run); with
    `evaluate` (after a publication), then queue the alerts marked `after_publish`."""
    server = SupersetServer(settings)
    output = server.run_admin_script(
        SCHEDULES_SCRIPT,
        ["apply", *(["--evaluate"] if evaluate else [])],
        "alerts and reports",
        stdin=json.dumps({"schedules": declared_schedules(settings.project_dir)}),
    )
    return ScheduleReport(**json.loads(output.splitlines()[-1]))


def send_now(settings: Settings, names: list[str]) -> list[str]:
    """Run these declared alerts or reports now, whatever their schedule (Superset must run):
    a report is sent; an alert is evaluated and sent if its condition holds."""
    server = SupersetServer(settings)
    if not server.status().running:
        raise SupersetError("Superset is not running: `rempart superset start` first")
    output = server.run_admin_script(SCHEDULES_SCRIPT, ["send", *names], "alerts and reports now")
    return json.loads(output.splitlines()[-1])["queued"]
