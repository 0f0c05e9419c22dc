"""Append events to Rempart's tamper-evident audit trail from inside Superset.

Through the security-definer function `audit.append_event`, as the role
`rempart_superset_audit`, which may do nothing else. The connection string (a passfile, no
password) comes from REMPART_AUDIT_DSN, set by `rempart superset start`.
"""

import contextlib
import logging
import os
import re
import threading

_logger = logging.getLogger("rempart.audit")


def audit_dsn() -> str:
    return os.environ.get("REMPART_AUDIT_DSN", "")


def event_name(action: str) -> str:
    """`superset_<action>` in lower snake case, as every Superset event is named in the trail."""
    return "superset_" + re.sub(r"\W+", "_", action).strip("_").lower()


_connections = threading.local()


def _connection(dsn: str):  # noqa: ANN202 - psycopg2's connection
    """This thread's connection to the warehouse, opened once: a page asks for a dozen charts,
    each audited, and opening a connection costs more than the event itself."""
    import psycopg2

    conn = getattr(_connections, "conn", None)
    if conn is None or conn.closed or getattr(_connections, "pid", None) != os.getpid():
        conn = psycopg2.connect(dsn, connect_timeout=5)
        _connections.conn, _connections.pid = conn, os.getpid()
    return conn


def _forget_connection() -> None:
    conn = getattr(_connections, "conn", None)
    _connections.conn = None
    if conn is not None and getattr(_connections, "pid", None) == os.getpid():
        with contextlib.suppress(Exception):
            conn.close()


def append_event(event: str, actor: str, details: dict) -> bool:
    """Write one event, committed before the request goes on; a failure is logged loudly,
    never raised (a page view must not break on it) and never silent. A connection that broke
    since its last use is replaced once. Returns whether the event was written."""
    dsn = audit_dsn()
    if not dsn:
        _logger.error("REMPART_AUDIT_DSN is not set: %s by %s not audited", event, actor)
        return False
    import psycopg2
    from psycopg2.extras import Json

    for attempt in (1, 2):
        try:
            conn = _connection(dsn)
            with conn, conn.cursor() as cursor:  # one transaction, committed on exit
                cursor.execute(
                    "select audit.append_event(%s, %s, p_details => %s)",
                    (event, actor, Json(details)),
                )
            return True
        except psycopg2.OperationalError:
            _forget_connection()
            if attempt == 2:
                _logger.exception("could not append %s by %s to the audit trail", event, actor)
        except Exception:
            _forget_connection()
            _logger.exception("could not append %s by %s to the audit trail", event, actor)
            return False
    return False
