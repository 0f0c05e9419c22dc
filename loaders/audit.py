"""The tamper-evident audit trail: append through the database, verify with the key."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
from psycopg.types.json import Jsonb

from loaders.schema import key_fingerprint, key_pads


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


ROTATION = "audit_key_rotated"


def verify_chain(conn: psycopg.Connection, audit_keys: bytes | Sequence[bytes]) -> ChainReport:
    """Recompute every event's keyed hash and link; name the first event that does not hold.

    Detects an edited event (its hash no longer matches its content), a deleted event (the
    next one is chained to a hash no remaining event has) and a forged one (no key, no valid
    hash). Removing the most recent events leaves a shorter chain that still verifies: compare
    the count with what you expect, or keep the last hash elsewhere.

    `audit_keys`: the current key and the retired ones. The chain starts under one of them;
    an `audit_key_rotated` event, signed under the key of its epoch, names (by fingerprint)
    the key of the next epoch, which must be among them.
    """
    keys = [audit_keys] if isinstance(audit_keys, bytes) else list(audit_keys)
    by_fingerprint = {key_fingerprint(key): key for key in keys}
    key: bytes | None = None
    previous_hash: str | None = None
    count = 0
    with conn.transaction(), conn.cursor(name="audit_verify") as cursor:
        cursor.itersize = 5000
        cursor.execute(
            "select event_id, previous_hash, event_hash, audit.canonical_message(events), "
            "action, details ->> 'new_key_fingerprint' "
            "from audit.events as events order by event_id"
        )
        for event_id, linked_hash, event_hash, message, action, next_key in cursor:
            count += 1
            if linked_hash != previous_hash:
                problem = (
                    "the first event is chained to an earlier one: events before it were deleted"
                    if previous_hash is None
                    else "it is chained to a hash no remaining event has: the event before it "
                    "was deleted or altered"
                )
                return ChainReport(count, event_id, problem)
            candidates = [key] if key is not None else keys  # the first event picks its epoch
            signed_by = next(
                (
                    candidate
                    for candidate in candidates
                    if hmac.compare_digest(
                        hmac.new(candidate, message.encode("utf-8"), hashlib.sha256).hexdigest(),
                        event_hash,
                    )
                ),
                None,
            )
            if signed_by is None:
                return ChainReport(
                    count, event_id, "its content does not match its hash: it was edited"
                )
            key = signed_by
            if action == ROTATION:
                key = by_fingerprint.get(next_key or "")
                if key is None:
                    return ChainReport(
                        count,
                        event_id,
                        f"the audit key rotated here to the key {next_key}, which is not in "
                        "the secrets store: restore it (a retired audit key is never deleted)",
                    )
            previous_hash = event_hash
    return ChainReport(count)


def continue_chain(conn: psycopg.Connection, new_key: bytes, actor: str, reason: str) -> None:
    """In the caller's transaction: an `audit_key_rotated` event signed under the installed
    audit key, naming the new one, which then signs every later event."""
    (installed,) = conn.execute(
        "select fingerprint from private.keys where key_name = 'audit'"
    ).fetchone()
    append_event(
        conn,
        ROTATION,
        actor,
        details={
            "old_key_fingerprint": installed,
            "new_key_fingerprint": key_fingerprint(new_key),
            "reason": reason,
        },
    )
    inner, outer = key_pads(new_key)
    conn.execute(
        "update private.keys set inner_pad = %s, outer_pad = %s, fingerprint = %s "
        "where key_name = 'audit'",
        (inner, outer, key_fingerprint(new_key)),
    )
