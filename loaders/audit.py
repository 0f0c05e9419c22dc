"""The tamper-evident audit trail: append through the database, verify with the key."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import psycopg
from psycopg.types.json import Jsonb


def append_event(
    conn: psycopg.Connection,
    action: str,
    actor: str,
    *,
    file_id: int | None = None,
    file_name: str | None = None,
    sha256: str | None = None,
    row_count: int | None = None,
    details: dict[str, object] | None = None,
) -> int:
    """Append one event (inside the caller's transaction); the database chains and signs it."""
    row = conn.execute(
        "select audit.append_event(%s, %s, %s, %s, %s, %s, %s)",
        (action, actor, file_id, file_name, sha256, row_count, Jsonb(details or {})),
    ).fetchone()
    assert row is not None
    return int(row[0])


@dataclass(frozen=True)
class ChainReport:
    events: int
    broken_event_id: int | None = None
    problem: str | None = None

    @property
    def intact(self) -> bool:
        return self.broken_event_id is None


def verify_chain(conn: psycopg.Connection, audit_key: bytes) -> ChainReport:
    """Recompute every event's keyed hash and link; name the first event that does not hold.

    Detects an edited event (its hash no longer matches its content), a deleted event (the
    next one is chained to a hash no remaining event has) and a forged one (no key, no valid
    hash). Removing the most recent events leaves a shorter chain that still verifies: compare
    the count with what you expect, or keep the last hash elsewhere.
    """
    previous_hash: str | None = None
    count = 0
    with conn.transaction(), conn.cursor(name="audit_verify") as cursor:
        cursor.itersize = 5000
        cursor.execute(
            "select event_id, previous_hash, event_hash, audit.canonical_message(events) "
            "from audit.events as events order by event_id"
        )
        for event_id, linked_hash, event_hash, message in cursor:
            count += 1
            if linked_hash != previous_hash:
                problem = (
                    "the first event is chained to an earlier one: events before it were deleted"
                    if previous_hash is None
                    else "it is chained to a hash no remaining event has: the event before it "
                    "was deleted or altered"
                )
                return ChainReport(count, event_id, problem)
            expected = hmac.new(audit_key, message.encode("utf-8"), hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, event_hash):
                return ChainReport(
                    count, event_id, "its content does not match its hash: it was edited"
                )
            previous_hash = event_hash
    return ChainReport(count)
