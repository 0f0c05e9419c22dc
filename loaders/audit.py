"""The tamper-evident audit trail: append through the database, verify with the key."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

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


@dataclass(frozen=True)
class ChainHead:
    """An event of the trail by its id and keyed hash: the newest one, when anchored."""

    event_id: int
    event_hash: str


ROTATION = "audit_key_rotated"


def verify_chain(
    conn: psycopg.Connection,
    audit_keys: bytes | Sequence[bytes],
    anchor: ChainHead | None = None,
) -> ChainReport:
    """Recompute every event's keyed hash and link; name the first event that does not hold.

    Detects an edited event (its hash no longer matches its content), a deleted event (the
    next one is chained to a hash no remaining event has) and a forged one (no key, no valid
    hash). Removing the most recent events leaves a shorter chain that holds: `anchor`, a head
    kept outside the database (`anchor_head`), must still be in the trail, with its hash.

    `audit_keys`: the current key and the retired ones. The chain starts under one of them;
    an `audit_key_rotated` event, signed under the key of its epoch, names (by fingerprint)
    the key of the next epoch, which must be among them.
    """
    keys = [audit_keys] if isinstance(audit_keys, bytes) else list(audit_keys)
    by_fingerprint = {key_fingerprint(key): key for key in keys}
    key: bytes | None = None
    previous_hash: str | None = None
    last_event_id: int | None = None
    anchored_hash: str | None = None
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
            previous_hash, last_event_id = event_hash, event_id
            if anchor is not None and event_id == anchor.event_id:
                anchored_hash = event_hash
    if anchor is not None and anchored_hash != anchor.event_hash:
        return ChainReport(
            count, anchor.event_id, _anchor_problem(anchor, anchored_hash, last_event_id)
        )
    return ChainReport(count)


def _anchor_problem(anchor: ChainHead, found_hash: str | None, last_event_id: int | None) -> str:
    if found_hash is not None:
        return (
            "the trail's head anchored outside the database is this event with another hash: "
            "the trail was rewritten from here"
        )
    ends = f"the trail ends at event {last_event_id}" if last_event_id else "the trail is empty"
    return (
        f"{ends}, but its head was anchored outside the database at this event: "
        "the newest events were deleted"
    )


def chain_head(conn: psycopg.Connection) -> ChainHead | None:
    row = conn.execute(
        "select event_id, event_hash from audit.events order by event_id desc limit 1"
    ).fetchone()
    return ChainHead(int(row[0]), row[1]) if row else None


def read_anchor(path: Path) -> ChainHead | None:
    """The head last anchored at `path`, or None if none was yet."""
    try:
        return ChainHead(**json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None


def anchor_head(conn: psycopg.Connection, path: Path, *, restored: bool = False) -> str | None:
    """Keep the trail's newest event at `path`, outside the database, where `verify_chain`
    finds it: a trail cut below it no longer verifies. The anchor only moves forward from an
    event still in the trail with its hash; otherwise it stays where it is (the cut must stay
    visible) and the problem is returned. `restored`: the trail was just replaced by a
    verified backup's, whose head becomes the anchor."""
    anchored = None if restored else read_anchor(path)
    if anchored is not None:
        row = conn.execute(
            "select event_hash from audit.events where event_id = %s", (anchored.event_id,)
        ).fetchone()
        if row is None or row[0] != anchored.event_hash:
            return (
                f"the audit trail no longer holds event {anchored.event_id} as anchored: "
                "the anchor stays there (`rempart audit verify` says more)"
            )
    head = chain_head(conn)
    if head is None or head == anchored:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # 0600
    with os.fdopen(descriptor, "w") as handle:
        json.dump(asdict(head), handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
    return None


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
