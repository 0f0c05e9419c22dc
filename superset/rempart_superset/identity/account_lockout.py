"""Lockout per account: too many failed logins lock the account, whatever the addresses.

The per-address rate limit slows one client down; behind a reverse proxy every person shares
one address, and a patient attacker spreads guesses over many. This counts failures per
account name instead: `attempts` failures (password or code) within `window` seconds lock the
account for `duration` seconds. A locked account is refused before its password is even
checked, with the very answer a wrong password gets, so nobody learns that it exists or is
locked. Failures are counted for any name, existing or not, for the same reason.

The state lives in Superset's metadata database (two tables of its own), so every gunicorn
worker and a restart see the same counts.
"""

import time
from dataclasses import dataclass

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, delete, func, select
from sqlalchemy.engine import Engine

metadata = MetaData()

login_failures = Table(
    "rempart_login_failures",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account", String(256), nullable=False, index=True),
    Column("failed_at", Float, nullable=False),
    Column("address", String(64)),
)

account_locks = Table(
    "rempart_account_locks",
    metadata,
    Column("account", String(256), primary_key=True),
    Column("locked_until", Float, nullable=False),
)


def account_key(username: str) -> str:
    """Logins are case-insensitive (Superset's default), so is the count."""
    return (username or "").strip().lower()[:256]


@dataclass(frozen=True)
class LockoutPolicy:
    attempts: int
    window_seconds: float
    duration_seconds: float


class AccountLockout:
    def __init__(self, engine: Engine, policy: LockoutPolicy) -> None:
        self.engine = engine
        self.policy = policy

    def create_tables(self) -> None:
        metadata.create_all(self.engine, checkfirst=True)

    def is_locked(self, username: str, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        with self.engine.connect() as conn:
            until = conn.execute(
                select(account_locks.c.locked_until).where(
                    account_locks.c.account == account_key(username)
                )
            ).scalar()
        return until is not None and until > now

    def record_failure(self, username: str, address: str | None, now: float | None = None) -> bool:
        """Count one failure; True when it locks the account (it was not locked before)."""
        now = time.time() if now is None else now
        key = account_key(username)
        with self.engine.begin() as conn:
            conn.execute(
                login_failures.insert().values(account=key, failed_at=now, address=address)
            )
            conn.execute(
                delete(login_failures).where(
                    login_failures.c.failed_at < now - self.policy.window_seconds
                )
            )
            recent = conn.execute(
                select(func.count()).where(login_failures.c.account == key)
            ).scalar()
            if recent < self.policy.attempts:
                return False
            conn.execute(delete(account_locks).where(account_locks.c.account == key))
            conn.execute(
                account_locks.insert().values(
                    account=key, locked_until=now + self.policy.duration_seconds
                )
            )
            # The lock starts a new count: after it, the next failures lock again.
            conn.execute(delete(login_failures).where(login_failures.c.account == key))
        return True

    def record_success(self, username: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                delete(login_failures).where(login_failures.c.account == account_key(username))
            )

    def unlock(self, username: str) -> bool:
        """Lift a lock and forget the failures; True if the account was locked."""
        key = account_key(username)
        now = time.time()
        with self.engine.begin() as conn:
            was_locked = conn.execute(
                select(func.count()).where(
                    account_locks.c.account == key, account_locks.c.locked_until > now
                )
            ).scalar()
            conn.execute(delete(account_locks).where(account_locks.c.account == key))
            conn.execute(delete(login_failures).where(login_failures.c.account == key))
        return bool(was_locked)
