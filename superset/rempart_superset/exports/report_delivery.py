"""What Superset's Alerts & Reports send: watermarked, checked, and recorded as sent.

Superset's report execution (superset.commands.report.execute.BaseReportState) builds each
notification's files, then hands them to one notification per recipient. Rempart changes
three of those steps, in the Celery worker that runs them:

* the PDF is printed by the browser with the watermark over every page (page_print.py), as
  text, and checked page by page before it may leave (watermark.check_pdf);
* every PNG gets the watermark drawn in, every CSV the statement as its first line;
* every notification sent (mail or webhook) is appended to the audit trail: the report, its
  kind, the account it ran as, the recipients, each attachment's SHA-256 and the watermark;
* a failure is told to the data stewards (REMPART_REPORT_ERRORS_TO), not to the report's
  owner, a report account without a mailbox.

The watermark names the account the report ran as (its department's report account) and the
time of the run: `REMPART_WATERMARK`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from flask import current_app

from rempart_superset.audit.audit_trail import append_event
from rempart_superset.exports.export_marking import file_name
from rempart_superset.exports.page_print import merge_pdfs, print_page
from rempart_superset.exports.watermark import check_pdf, stamp_csv, stamp_png, watermark_text

logger = logging.getLogger(__name__)

_WATERMARK_ATTRIBUTE = "_rempart_watermark"
_EXECUTOR_ATTRIBUTE = "_rempart_executor"
# The report run whose notifications are being sent, in this thread (Superset's own loop
# over the recipients creates them).
_sending: ContextVar[Any] = ContextVar("rempart_report_sending", default=None)


def _executor(state: Any) -> Any:
    """The account the run executes as, looked up once per run."""
    user = getattr(state, _EXECUTOR_ATTRIBUTE, None)
    if user is None:
        from superset.tasks.utils import get_executor

        from superset import security_manager

        _, username = get_executor(
            executors=current_app.config["ALERT_REPORTS_EXECUTORS"], model=state._report_schedule
        )
        user = security_manager.find_user(username)
        setattr(state, _EXECUTOR_ATTRIBUTE, user)
    return user


def _watermark(state: Any) -> str:
    """One text per run of a report: every file of the run carries the same."""
    text = getattr(state, _WATERMARK_ATTRIBUTE, None)
    if text is None:
        text = watermark_text(current_app.config["REMPART_WATERMARK"], _executor(state).username)
        setattr(state, _WATERMARK_ATTRIBUTE, text)
    return text


def _printed_pdf(state: Any) -> bytes:
    report = state._report_schedule
    user = _executor(state)
    text = _watermark(state)
    if report.chart:
        pages = [print_page(state._get_url(), user, text, dashboard=False)]
    else:
        pages = [print_page(url, user, text, dashboard=True) for url in state.get_dashboard_urls()]
    pdf = merge_pdfs(pages)
    check_pdf(pdf, text)
    return pdf


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def attachments_of(content: Any) -> list[dict[str, str]]:
    """What a notification carries, by format and SHA-256."""
    files = []
    if content.pdf:
        files.append({"format": "pdf", "sha256": _digest(content.pdf)})
    if content.csv:
        files.append({"format": "csv", "sha256": _digest(content.csv)})
    for screenshot in content.screenshots or []:
        files.append({"format": "png", "sha256": _digest(screenshot)})
    if content.embedded_data is not None:
        text = content.embedded_data.to_csv(index=False).encode("utf-8")
        files.append({"format": "table", "sha256": _digest(text)})
    return files


def _named(notification: Any, state: Any) -> None:
    """Its attachments named `<report>_<account>_<YYYYMMDD_HHMM>.<ext>`, as downloads are."""
    get_content = getattr(notification, "_get_content", None)
    if get_content is None:
        return
    username, when = _executor(state).username, datetime.now(UTC)

    def named_content() -> Any:
        content = get_content()
        for files in (content.pdf, content.data):
            for name in list(files or {}):
                stem, extension = name.rsplit(".", 1)
                files[file_name(stem, extension, username, when)] = files.pop(name)
        return content

    notification._get_content = named_content


def _recorded(notification: Any, state: Any) -> Any:
    """The notification, whose send() also appends what was sent to the audit trail."""
    _named(notification, state)
    send = notification.send

    def send_and_record() -> None:
        send()
        report = state._report_schedule
        content = notification._content
        target = json.loads(notification._recipient.recipient_config_json or "{}")
        append_event(
            "superset_report_sent",
            _executor(state).username,
            {
                "report": report.name,
                "report_id": report.id,
                "kind": str(report.type),
                "channel": str(notification._recipient.type),
                "recipients": [
                    value
                    for key, value in sorted(target.items())
                    if key.lower().endswith("target") and value
                ],
                "attachments": attachments_of(content),
                "error": content.text or None,
                "watermark": getattr(state, _WATERMARK_ATTRIBUTE, None),
                "execution_id": str(state._execution_id),
            },
        )

    notification.send = send_and_record
    return notification


def scheduled_time(value: Any) -> datetime:
    """The time a run was scheduled for, as the execution log stores it (naive UTC). Celery
    hands Superset its task's `eta` as an ISO string, which the SQLite metadata refuses."""
    if value is None:
        return datetime.now(UTC).replace(tzinfo=None)
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def install() -> None:
    """Change Superset's report execution as described above (Celery worker and web)."""
    from superset.commands.report import execute

    state_class = execute.BaseReportState
    if getattr(state_class, "_rempart_delivery", False):
        return
    screenshots = state_class._get_screenshots
    csv_data = state_class._get_csv_data
    create_notification = execute.create_notification

    def _get_pdf(self: Any) -> bytes:
        return _printed_pdf(self)

    def _get_screenshots(self: Any) -> list[bytes]:
        text = _watermark(self)
        return [stamp_png(image, text) for image in screenshots(self)]

    def _get_csv_data(self: Any) -> bytes:
        return stamp_csv(csv_data(self), _watermark(self))

    def _send(self: Any, content: Any, recipients: list[Any]) -> None:
        token = _sending.set(self)
        try:
            original_send(self, content, recipients)
        finally:
            _sending.reset(token)

    def recorded_notification(recipient: Any, content: Any) -> Any:
        notification = create_notification(recipient, content)
        state = _sending.get()
        return notification if state is None else _recorded(notification, state)

    def send_error(self: Any, name: str, message: str) -> None:
        """Superset mails a failure to the report's owners: Rempart's report accounts have
        no mailbox, so it goes to REMPART_REPORT_ERRORS_TO (the data stewards) instead."""
        from superset.reports.models import ReportRecipients, ReportRecipientType

        targets = current_app.config["REMPART_REPORT_ERRORS_TO"]
        if not targets:
            return original_send_error(self, name, message)
        content = execute.NotificationContent(
            name=name,
            text=message,
            header_data=self._get_log_data(),
            url=self._get_url(user_friendly=True),
        )
        recipient = ReportRecipients(
            type=ReportRecipientType.EMAIL, recipient_config_json=json.dumps({"target": targets})
        )
        return self._send(content, [recipient])

    original_send_error = state_class.send_error
    state_class.send_error = send_error
    command_class = execute.AsyncExecuteReportScheduleCommand
    command_init = command_class.__init__

    def __init__(self: Any, task_id: str, model_id: int, scheduled_dttm: Any) -> None:
        command_init(self, task_id, model_id, scheduled_time(scheduled_dttm))

    command_class.__init__ = __init__
    original_send = state_class._send
    execute.create_notification = recorded_notification
    state_class._get_pdf = _get_pdf
    state_class._get_screenshots = _get_screenshots
    state_class._get_csv_data = _get_csv_data
    state_class._send = _send
    state_class._rempart_delivery = True
