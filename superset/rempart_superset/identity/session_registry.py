"""Browser sessions known to the server, so that logout and idleness end them for good.

Superset keeps its session in a signed cookie: on its own, a cookie copied before logout
stays valid until it expires. Rempart records every session it opens (the SHA-256 of a random
token, never the token itself) in Superset's metadata database; the session gate
(session_gate.py) accepts a logged-in cookie only while its token is in this table, younger
than the absolute lifetime and used within the idle limit. Logout deletes the row. API tokens
carry a session of their own (security_manager.py), under the same rules.

A session is bound to the credential it was opened with (a digest of the account's password
hash): whatever changes the password (the account's own form, an administrator, the API), every
session opened before, browser or token, ends with it.
"""

import hashlib
import secrets
import time

from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    inspect,
    or_,
    select,
    update,
)
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
    Column("credential", String(64), nullable=False, default=""),
)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def credential_of(user: object) -> str:
    """What a session is bound to: a digest of the account's password hash, as it is now."""
    return _hash(str(getattr(user, "password", "") or ""))


class SessionRegistry:
    def __init__(self, engine: Engine, idle_seconds: float, lifetime_seconds: float) -> None:
        self.engine = engine
        self.idle_seconds = idle_seconds
        self.lifetime_seconds = lifetime_seconds

    def create_tables(self) -> None:
        schema = inspect(self.engine)
        if schema.has_table("rempart_sessions") and "credential" not in {
            column["name"] for column in schema.get_columns("rempart_sessions")
        }:  # made by a release before sessions were bound to a credential
            sessions.drop(self.engine)  # its sessions end: everyone logs in once more
        metadata.create_all(self.engine, checkfirst=True)

    def _expired(self, now: float) -> ColumnElement:
        return or_(
            sessions.c.last_seen < now - self.idle_seconds,
            sessions.c.created_at < now - self.lifetime_seconds,
        )

    def open(
        self, user_id: int, factor: str, now: float | None = None, credential: str = ""
    ) -> str:
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
                    credential=credential,
                )
            )
        return token

    def check(
        self, token: str | None, user_id: int, now: float | None = None, credential: str = ""
    ) -> bool:
        """Whether this token is a live session of this user, opened with this credential;
        marks it used."""
        if not token or not isinstance(token, str):
            return False
        now = time.time() if now is None else now
        key = _hash(token)
        with self.engine.connect() as conn:
            row = conn.execute(select(sessions).where(sessions.c.token_hash == key)).first()
        if row is None or row.user_id != user_id:
            return False
        if row.credential != credential:
            self.close(token)
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
