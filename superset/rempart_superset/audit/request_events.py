"""Superset's events, written once per request: its action log and Rempart's audit trail.

Superset logs an event for each step it times inside a request: a chart's data is the
endpoint's event plus `execute_sql`, `load_into_dataframe`, `post_processing` and
`json_dumps`, each written to Superset's action log with a commit of its own. Every event that
shows or exports data is also appended to Rempart's tamper-evident audit trail (audit_trail.py),
one writer at a time. Six commits and four audit events for one chart, and the trail said four
times that one person looked once.

Here a request's events are kept until the request ends (`flush`, a teardown of the
application), then written together: one row in Superset's action log (queued for its writer
thread, action_log_writer.py) and at most one event in the audit trail, written before the
answer leaves, for the request's own action (the last one logged: the endpoint's, which
encloses the steps), with each step's name and duration in it. Events outside a request (a
Celery task) are written at once. As before, an audit failure is logged loudly, never raised.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from flask import g, has_request_context
from superset.utils import json
from superset.utils.log import AbstractEventLogger

from rempart_superset.audit.action_log_writer import ActionLogWriter
from rempart_superset.audit.audit_trail import append_event, event_name
from rempart_superset.exports.export_marking import export_details

# The actions that show or export data: those the audit trail records.
AUDITED_ACTION = re.compile(
    r"dashboard|chart|slice|explore|export|csv|sql|query|dataset|datasource",
    re.IGNORECASE,
)
# What the audit trail keeps of the request Superset collected (path, query string, JSON
# body): the keys that say what was asked and in which form, so an export tells from a view.
_REQUEST_KEYS = (
    "path",
    "url_rule",
    "object_ref",
    "rison",
    "datasource",
    "result_format",
    "result_type",
)
_PENDING = "rempart_pending_events"

logger = logging.getLogger(__name__)


@dataclass
class Event:
    user_id: int | None
    action: str
    dashboard_id: int | None
    duration_ms: int | None
    slice_id: int | None
    referrer: str | None
    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


class RequestEventLogger(AbstractEventLogger):
    action_log: ActionLogWriter | None = None  # set when the application is made

    def log(  # Superset's signature
        self,
        user_id: int | None,
        action: str,
        dashboard_id: int | None,
        duration_ms: int | None,
        slice_id: int | None,
        referrer: str | None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        event = Event(user_id, action, dashboard_id, duration_ms, slice_id, referrer, args, kwargs)
        if has_request_context():
            g.setdefault(_PENDING, []).append(event)
        else:
            self._write(event, steps={})

    def flush(self, _error: BaseException | None = None) -> None:
        """At the end of a request: its events, written as one."""
        events = g.pop(_PENDING, None) if has_request_context() else None
        if not events:
            return
        *steps, request_event = events
        self._write(request_event, {step.action: step.duration_ms for step in steps})

    def write_action_log_with(self, writer: ActionLogWriter) -> None:
        self.action_log = writer

    def _write(self, event: Event, steps: dict[str, int | None]) -> None:
        self._queue_action_log_rows(event, steps)
        if any(AUDITED_ACTION.search(action or "") for action in (event.action, *steps)):
            _append_to_audit_trail(event, steps)

    def _queue_action_log_rows(self, event: Event, steps: dict[str, int | None]) -> None:
        """The rows Superset's own logger would write (one per record), with the steps."""
        if self.action_log is None:
            logger.error("Superset's action log has no writer: %s not logged", event.action)
            return
        for record in event.kwargs.get("records") or [event.kwargs.get("curated_payload") or {}]:
            details = {**record, "steps": steps} if steps else record
            try:
                details_json = json.dumps(details)
            except Exception:  # as Superset does: the row without its details
                details_json = None
            self.action_log.add(
                {
                    "action": event.action,
                    "json": details_json,
                    "dashboard_id": event.dashboard_id or record.get("dashboard_id"),
                    "slice_id": event.slice_id or record.get("slice_id"),
                    "duration_ms": event.duration_ms,
                    "referrer": event.referrer,
                    "user_id": event.user_id,
                }
            )


def _append_to_audit_trail(event: Event, steps: dict[str, int | None]) -> None:
    user = g.get("user") if has_request_context() else None
    username = getattr(user, "username", None) or (
        f"user #{event.user_id}" if event.user_id else "anonymous"
    )
    details: dict[str, Any] = {
        "superset_action": event.action,
        "dashboard_id": event.dashboard_id,
        "chart_id": event.slice_id,
        "user_id": event.user_id,
    }
    records = event.kwargs.get("records") or [{}]
    payload = {**records[0], **(event.kwargs.get("curated_payload") or {})}
    payload.setdefault("result_format", payload.get("format"))
    payload.setdefault("result_type", payload.get("type"))
    for key in _REQUEST_KEYS:
        if payload.get(key) is not None:
            details[key] = str(payload[key])[:500]
    if steps:
        details["steps"] = steps
    export = export_details() if has_request_context() else None
    if export:
        details["export"] = export  # format, file name and watermark (exports/export_marking.py)
    append_event(event_name(event.action), username, details)
