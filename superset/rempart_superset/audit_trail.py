"""Append events to Rempart's tamper-evident audit trail from inside Superset.

Through the security-definer function `audit.append_event`, as the role
`rempart_superset_audit`, which may do nothing else. The connection string (a passfile, no
password) comes from REMPART_AUDIT_DSN, set by `rempart superset start`.
"""

import logging
import os
import re

_logger = logging.getLogger("rempart.audit")


def audit_dsn() -> str:
    return os.environ.get("REMPART_AUDIT_DSN", "")


def event_name(action: str) -> str:
    """`superset_<action>` in lower snake case, as every Superset event is named in the trail."""
    return "superset_" + re.sub(r"\W+", "_", action).strip("_").lower()


def append_event(event: str, actor: str, details: dict) -> bool:
    """Write one event; a failure is logged loudly, never raised (a page view must not break
    on it) and never silent. Returns whether the event was written."""
    dsn = audit_dsn()
    if not dsn:
        _logger.error("REMPART_AUDIT_DSN is not set: %s by %s not audited", event, actor)
        return False
    import psycopg2
    from psycopg2.extras import Json

    try:
        with psycopg2.connect(dsn, connect_timeout=5) as conn, conn.cursor() as cursor:
            cursor.execute(
                "select audit.append_event(%s, %s, p_details => %s)",
                (event, actor, Json(details)),
            )
        conn.close()
    except Exception:
        _logger.exception("could not append %s by %s to the audit trail", event, actor)
        return False
    return True
