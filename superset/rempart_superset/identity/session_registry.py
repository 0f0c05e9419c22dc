"""Browser sessions known to the server, so that logout and idleness end them for good.

Superset keeps its session in a signed cookie: on its own, a cookie copied before logout
stays valid until it expires. Rempart records every session it opens (the SHA-256 of a random
token, never the token itself) in Superset's metadata database; the session gate
(session_gate.py) accepts a logged-in cookie only while its token is in this table, younger
than the absolute lifetime and used within the idle limit. Logout deletes the row.
"""

import hashlib
import secrets
import time

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, delete, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import ColumnElement

# last_seen is written at most this often: a page loads dozens of API calls.
TOUCH_SECONDS = 60

metadata = MetaData()

sessions = Table(
    "rempart_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, nullable=False, index=True),
    Column("created_at", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    Column("factor", String(32), nullable=False),
)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class SessionRegistry:
    def __init__(self, engine: Engine, idle_seconds: float, lifetime_seconds: float) -> None:
        self.engine = engine
        self.idle_seconds = idle_seconds
        self.lifetime_seconds = lifetime_seconds

    def create_tables(self) -> None:
        metadata.create_all(self.engine, checkfirst=True)

    def _expired(self, now: float) -> ColumnElement:
        return or_(
            sessions.c.last_seen < now - self.idle_seconds,
            sessions.c.created_at < now - self.lifetime_seconds,
        )

    def open(self, user_id: int, factor: str, now: float | None = None) -> str:
        """A new session for this user; the token goes into the (signed) session cookie."""
        now = time.time() if now is None else now
        token = secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(delete(sessions).where(self._expired(now)))
            conn.execute(
                sessions.insert().values(
                    token_hash=_hash(token),
                    user_id=user_id,
                    created_at=now,
                    last_seen=now,
                    factor=factor,
                )
            )
        return token

    def check(self, token: str | None, user_id: int, now: float | None = None) -> bool:
        """Whether this token is a live session of this user; marks it used."""
        if not token or not isinstance(token, str):
            return False
        now = time.time() if now is None else now
        key = _hash(token)
        with self.engine.connect() as conn:
            row = conn.execute(select(sessions).where(sessions.c.token_hash == key)).first()
        if row is None or row.user_id != user_id:
            return False
        if row.last_seen < now - self.idle_seconds or row.created_at < now - self.lifetime_seconds:
            self.close(token)
            return False
        if now - row.last_seen >= TOUCH_SECONDS:
            # Only over the value read: a session ended or aged meanwhile (by another request,
            # or by an administrator) is not brought back by a request that began before.
            with self.engine.begin() as conn:
                conn.execute(
                    update(sessions)
                    .where(sessions.c.token_hash == key, sessions.c.last_seen == row.last_seen)
                    .values(last_seen=now)
                )
        return True

    def close(self, token: str | None) -> None:
        if token and isinstance(token, str):
            with self.engine.begin() as conn:
                conn.execute(delete(sessions).where(sessions.c.token_hash == _hash(token)))

    def close_all_for(self, user_id: int) -> int:
        with self.engine.begin() as conn:
            return conn.execute(delete(sessions).where(sessions.c.user_id == user_id)).rowcount
