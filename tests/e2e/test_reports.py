"""Alerts and reports, end to end: declared in superset/alerts_reports.yaml, synced into the
session's Superset, run by its Celery worker with Debian's Chromium, mailed to a real SMTP
server (tests/e2e/mailbox.py), read back as a person would: the PDF's text, the watermark."""

from __future__ import annotations

import io
import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path

from pypdf import PdfReader

from flows.seeds.recipients import recipients_by_audience
from flows.superset.accounts import report_account
from flows.superset.schedules import declared_schedules
from tests.conftest import run_rempart
from tests.e2e.conftest import Deployment
from tests.e2e.mailbox import Mailbox, Received

# A detail row of the KPI overview as printed: day, KPI code, department, ...
DETAIL_ROW = re.compile(r"^\d{4}-\d{2}-\d{2} [a-z_]+ ([a-z_]+) ", re.MULTILINE)
QUIET_SECONDS = 8


def _department_name(deployment: Deployment, department: str) -> str:
    return deployment.query(
        "select department_name from seeds.departments where department_slug = %s", department
    )[0][0]


def _recipient(department: str) -> str:
    return recipients_by_audience()[department][0]["target"]


def _watermark(account: str) -> str:
    return f"CONFIDENTIEL \N{EN DASH} {account} \N{EN DASH} {datetime.now(UTC):%Y-%m-%d}"


def _wait_until_quiet(mailbox: Mailbox) -> float:
    """Once no mail has arrived for a while (what earlier runs sent is in); the time."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        last = max((message.at for message in mailbox.received()), default=0.0)
        if time.time() - last >= QUIET_SECONDS:
            return time.time()
        time.sleep(2)
    raise AssertionError("the mailbox never went quiet: reports keep arriving")


def test_alerts_and_reports_equal_the_declarations_and_a_second_sync_changes_nothing(
    deployment: Deployment,
) -> None:
    output = deployment.rempart("superset", "sync")
    assert "in sync, nothing changed" in output, output
    admin = deployment.client("admin")
    try:
        found = {}
        for row in admin.list_all("/api/v1/report/", columns="!(id,name)"):
            report = admin.request("GET", f"/api/v1/report/{row['id']}")["result"]
            found[report["name"]] = report
    finally:
        admin.close()
    declared = declared_schedules()
    assert sorted(found) == sorted(schedule["name"] for schedule in declared)
    for schedule in declared:
        report = found[schedule["name"]]
        assert report["type"] == schedule["type"]
        assert report["crontab"] == schedule["crontab"]
        assert report["timezone"] == schedule["timezone"]
        assert report["report_format"] == schedule["report_format"]
        assert [owner["id"] for owner in report["owners"]] and len(report["owners"]) == 1
        assert sorted(
            (recipient["type"], json.loads(recipient["recipient_config_json"])["target"])
            for recipient in report["recipients"]
        ) == sorted((r["type"], r["target"]) for r in schedule["recipients"])
        if schedule["type"] == "Alert":
            assert report["sql"] == schedule["sql"]
    # The owner (the account the report runs as) is the department's report account.
    weekly = [s for s in declared if s["name"].startswith("Weekly KPI overview")]
    assert {s["owner"] for s in weekly} == {report_account(d) for d in deployment.departments}


def test_the_weekly_kpi_report_mails_each_department_a_watermarked_pdf_of_its_own_rows(
    deployment: Deployment, mailbox: Mailbox
) -> None:
    departments = ["sales", "support"]
    names = {
        department: f"Weekly KPI overview \N{EN DASH} {_department_name(deployment, department)}"
        for department in departments
    }
    since = time.time()
    deployment.rempart("superset", "send", *names.values())
    for department, name in names.items():
        mail: Received = mailbox.wait_for(
            lambda message, name=name: name in message.subject, since=since, timeout=240
        )[0]
        assert mail.recipients == [_recipient(department)]
        [(file_name, pdf)] = mail.attachments(".pdf")
        account = report_account(department)
        assert f"_{account}_{datetime.now(UTC):%Y%m%d}_" in file_name, file_name
        pages = [page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages]
        watermark = _watermark(report_account(department))
        for number, text in enumerate(pages, start=1):
            assert watermark in " ".join(text.split()), f"{file_name} page {number}"
        text = "\n".join(pages)
        assert "Revenue per day" in text  # the dashboard's figures are text, not pictures
        rows = DETAIL_ROW.findall(text)
        assert rows, f"no detail row in {file_name}"
        assert set(rows) == {department}, f"{file_name} shows rows of {set(rows)}"
    sent = deployment.query(
        "select actor, details from audit.events where action = 'superset_report_sent' "
        "and occurred_at >= to_timestamp(%s)",
        since,
    )
    for department, name in names.items():
        [(actor, details)] = [row for row in sent if row[1]["report"] == name]
        assert actor == report_account(department)
        assert details["recipients"] == [_recipient(department)]
        assert details["attachments"][0]["format"] == "pdf"
        assert len(details["attachments"][0]["sha256"]) == 64
        assert details["watermark"].startswith(_watermark(report_account(department)))


def test_an_anomaly_landed_for_one_department_alerts_that_department_only(
    deployment: Deployment, mailbox: Mailbox
) -> None:
    _wait_until_quiet(mailbox)
    # A day with a full month of history before it (other tests land later days alone), to
    # which the file adds a value far beyond anything sales ever made in a day.
    [(day,)] = deployment.query(
        "select measured_on from ("
        "  select measured_on, count(*) over (order by measured_on range between"
        "    interval '28 days' preceding and interval '1 day' preceding) as history"
        "  from (select distinct measured_on from marts.kpi_daily_summary"
        "        where department = 'sales' and kpi_code = 'chiffre_affaires') as days"
        ") as days_with_history where history >= 20 order by measured_on desc limit 1"
    )
    inbox = Path(deployment.env["REMPART_INBOX_DIR"])
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / "sales_fr_anomaly.csv").write_text(
        "date_mesure;département;catégorie;sous_catégorie;indicateur;valeur;unité;commentaire\n"
        f"{day:%d/%m/%Y};Ventes;Boissons;Essai d'alerte;chiffre_affaires;9 999 999,00;EUR;\n",
        encoding="cp1252",
    )
    ran = time.time()
    alerts_on = {**deployment.env, "REMPART_SUPERSET_ALERTS_AFTER_PUBLISH": "true"}
    completed = run_rempart("run", env=alerts_on, timeout=900)
    run = completed.stdout + completed.stderr
    assert completed.returncode == 0, run[-2000:]
    assert "alert(s) evaluated" in run, run[-2000:]
    subject = {
        department: f"New anomalies \N{EN DASH} {_department_name(deployment, department)}"
        for department in deployment.departments
    }
    try:
        [alert] = mailbox.wait_for(
            lambda message: subject["sales"] in message.subject, since=ran, timeout=120
        )
    except AssertionError as error:
        worker_log = deployment.settings.state_dir / "superset" / "celery-worker.log"
        tail = worker_log.read_text(errors="replace").splitlines()[-80:]
        raise AssertionError(f"{error}\nrun:\n{run[-1500:]}\nworker:\n" + "\n".join(tail)) from None
    assert alert.recipients == [_recipient("sales")]
    assert alert.parts("image/png"), "the alert carries the anomalies chart"
    # The other departments' alerts were queued with it, and evaluate in a fraction of the
    # seconds its picture took: had they found anything, their mail would be in by now.
    time.sleep(15)
    others = [
        message
        for message in mailbox.received(ran)
        if any(subject[d] in message.subject for d in deployment.departments if d != "sales")
    ]
    assert not others, [(m.subject, m.recipients) for m in others]
