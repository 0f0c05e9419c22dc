"""Superset's alerts and reports made to match superset/alerts_reports.yaml, or run now.

Run inside Superset's environment by `rempart superset sync` and `rempart run`
(flows/superset/schedules.py), never by hand:

    report_schedules.py apply [--evaluate] --operator USER   < desired schedules (JSON)
    report_schedules.py send NAME... --operator USER        these alerts or reports, run now

`--evaluate` (after a publication of the marts) then queues the alerts marked
`after_publish`: one start of Superset's application for both.

Through Superset's models rather than its REST API: a report must be owned by its report
account alone (Superset runs it as its owner), and the API makes whoever creates a report one
of its owners. Each schedule Rempart manages is marked in its `extra` (`rempart.managed`);
managed schedules that are no longer declared are removed, others are never touched.

Input of `apply`: {"schedules": [{"name", "type" (Report|Alert), "description", "crontab",
"timezone", "dashboard_uuid" or "chart_uuid", "report_format", "owner" (username),
"recipients": [{"type": "Email"|"Webhook", "target"}], "email_subject", "grace_period",
"working_timeout", "log_retention", "after_publish", and for alerts "database", "sql",
"validator_config"}]}. Output: one JSON line {"created": [...], "updated": [...],
"removed": [...], "unchanged": n, "queued": [...]}, or {"queued": [...]} for `send`.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Rempart's modules for Superset (superset/rempart_superset/) are one folder up: run by path,
# this script has only superset/scripts/ on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from croniter import croniter
from rempart_superset.audit.audit_trail import append_event
from superset.app import create_app

MARK = "rempart"


def _managed(schedule: Any) -> dict:
    extra = schedule.extra or {}
    mark = extra.get(MARK) if isinstance(extra, dict) else None
    return mark if isinstance(mark, dict) and mark.get("managed") else {}


def _fields(spec: dict, lookups: Any) -> dict[str, Any]:
    """The columns of a schedule as the specification wants them."""
    from superset.reports.models import ReportScheduleType, ReportScheduleValidatorType

    alert = spec["type"] == ReportScheduleType.ALERT
    return {
        "type": spec["type"],
        "name": spec["name"],
        "description": spec.get("description") or None,
        "active": True,
        "crontab": spec["crontab"],
        "timezone": spec["timezone"],
        "creation_method": "alerts_reports",
        "report_format": spec["report_format"],
        "chart_id": lookups.chart(spec["chart_uuid"]) if spec.get("chart_uuid") else None,
        "dashboard_id": (
            lookups.dashboard(spec["dashboard_uuid"]) if spec.get("dashboard_uuid") else None
        ),
        "database_id": lookups.database(spec["database"]) if alert else None,
        "sql": spec["sql"] if alert else None,
        "validator_type": ReportScheduleValidatorType.OPERATOR if alert else None,
        "validator_config_json": json.dumps(spec["validator_config"] if alert else {}),
        "grace_period": int(spec["grace_period"]),
        "working_timeout": int(spec["working_timeout"]),
        "log_retention": int(spec["log_retention"]),
        "email_subject": spec.get("email_subject") or None,
        "force_screenshot": False,
    }


class Lookups:
    """Superset's ids of the things a specification names by uuid, name or username."""

    def __init__(self, db: Any) -> None:
        from flask_appbuilder.security.sqla.models import User
        from superset.models.core import Database
        from superset.models.dashboard import Dashboard
        from superset.models.slice import Slice

        self.db, self.models = db, {"chart": Slice, "dashboard": Dashboard}
        self.Database, self.User = Database, User

    def _by_uuid(self, kind: str, uuid: str) -> int:
        model = self.models[kind]
        found = self.db.session.query(model).filter(model.uuid == uuid).one_or_none()
        if found is None:
            raise LookupError(f"no {kind} with uuid {uuid} in Superset: sync the dashboards first")
        return found.id

    def chart(self, uuid: str) -> int:
        return self._by_uuid("chart", uuid)

    def dashboard(self, uuid: str) -> int:
        return self._by_uuid("dashboard", uuid)

    def database(self, name: str) -> int:
        found = self.db.session.query(self.Database).filter_by(database_name=name).one_or_none()
        if found is None:
            raise LookupError(f"no database {name!r} in Superset: sync the datasets first")
        return found.id

    def user(self, username: str) -> Any:
        found = self.db.session.query(self.User).filter_by(username=username).one_or_none()
        if found is None:
            raise LookupError(f"no account {username!r}: `rempart superset start` creates it")
        return found


def _recipients_of(schedule: Any) -> list[tuple[str, str]]:
    return sorted(
        (recipient.type, json.loads(recipient.recipient_config_json or "{}").get("target", ""))
        for recipient in schedule.recipients
    )


def apply(app: Any, request: dict) -> dict[str, Any]:
    from superset.reports.models import ReportRecipients, ReportSchedule

    from superset import db

    lookups = Lookups(db)
    outcome: dict[str, Any] = {"created": [], "updated": [], "removed": [], "unchanged": 0}
    wanted = {(spec["name"], spec["type"]): spec for spec in request["schedules"]}
    existing = {(s.name, s.type): s for s in db.session.query(ReportSchedule).all()}
    for key, spec in sorted(wanted.items()):
        if not croniter.is_valid(spec["crontab"]):
            raise LookupError(f"{spec['name']}: {spec['crontab']!r} is no cron expression")
        fields = _fields(spec, lookups)
        owner = lookups.user(spec["owner"])
        recipients = sorted((r["type"], r["target"]) for r in spec["recipients"])
        mark = {"managed": True, "after_publish": bool(spec.get("after_publish"))}
        schedule = existing.get(key)
        if schedule is None:
            schedule = ReportSchedule(**fields)
            db.session.add(schedule)
            outcome["created"].append(spec["name"])
        else:
            same = (
                all(getattr(schedule, column) == value for column, value in fields.items())
                and [user.id for user in schedule.owners] == [owner.id]
                and _recipients_of(schedule) == recipients
                and _managed(schedule) == mark
            )
            if same:
                outcome["unchanged"] += 1
                continue
            for column, value in fields.items():
                setattr(schedule, column, value)
            for recipient in list(schedule.recipients):
                db.session.delete(recipient)
            outcome["updated"].append(spec["name"])
        schedule.owners = [owner]
        schedule.extra = {**(schedule.extra or {}), MARK: mark}
        schedule.recipients = [
            ReportRecipients(type=kind, recipient_config_json=json.dumps({"target": target}))
            for kind, target in recipients
        ]
    for key, schedule in existing.items():
        if key not in wanted and _managed(schedule):
            db.session.delete(schedule)
            outcome["removed"].append(schedule.name)
    db.session.commit()
    return outcome


def _queue_now(schedules: list[Any], lift_grace: bool) -> dict[str, Any]:
    """Each schedule run now by the Celery worker; with `lift_grace`, an alert that was sent
    lately is evaluated all the same (someone asked for it by name)."""
    from superset.reports.models import ReportState
    from superset.tasks.scheduler import execute

    from superset import db

    for schedule in schedules:
        if lift_grace and schedule.last_state in (ReportState.SUCCESS, ReportState.GRACE):
            schedule.last_state = ReportState.NOOP
    db.session.commit()
    now = datetime.now(UTC)
    for schedule in schedules:
        execute.apply_async((schedule.id,), eta=now)
    return {"queued": [schedule.name for schedule in schedules]}


def evaluate(app: Any) -> dict[str, Any]:
    """Every active managed alert marked `after_publish`, run now: the publication may have
    brought what it alerts on. Its grace period holds: an alert sent lately stays quiet."""
    from superset.reports.models import ReportSchedule, ReportScheduleType

    from superset import db

    alerts = db.session.query(ReportSchedule).filter(
        ReportSchedule.type == ReportScheduleType.ALERT, ReportSchedule.active.is_(True)
    )
    after_publish = [alert for alert in alerts if _managed(alert).get("after_publish")]
    return _queue_now(after_publish, lift_grace=False)


def send(app: Any, names: list[str]) -> dict[str, Any]:
    """These managed schedules, by name, run now (a report is sent whatever its schedule)."""
    from superset.reports.models import ReportSchedule

    from superset import db

    found = {
        schedule.name: schedule
        for schedule in db.session.query(ReportSchedule).filter(ReportSchedule.name.in_(names))
        if _managed(schedule)
    }
    missing = sorted(set(names) - set(found))
    if missing:
        raise LookupError(f"no declared alert or report named {', '.join(missing)}")
    return _queue_now([found[name] for name in names], lift_grace=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["apply", "send"])
    parser.add_argument("names", nargs="*", help="send: the alerts or reports to run now")
    parser.add_argument(
        "--evaluate", action="store_true", help="apply: then run the after_publish alerts"
    )
    parser.add_argument("--operator", required=True, help="who acts, for the audit trail")
    arguments = parser.parse_args()
    app = create_app()
    with app.app_context():
        try:
            if arguments.action == "apply":
                outcome = apply(app, json.load(sys.stdin))
                outcome["queued"] = evaluate(app)["queued"] if arguments.evaluate else []
            else:
                outcome = send(app, arguments.names)
        except LookupError as error:
            print(str(error), file=sys.stderr)
            return 1
        changed = {key: value for key, value in outcome.items() if value and key != "unchanged"}
        if changed and not append_event(
            f"superset_alerts_reports_{arguments.action}", arguments.operator, changed
        ):
            print("the audit trail could not record this: see Superset's log", file=sys.stderr)
            return 1
    print(json.dumps(outcome))
    return 0


if __name__ == "__main__":
    sys.exit(main())
