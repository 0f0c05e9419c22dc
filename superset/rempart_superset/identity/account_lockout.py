"""Lockout per account: too many failed logins lock the account, whatever the addresses,
except where its owner logs in.

The per-address rate limit slows one client down; behind a reverse proxy every person shares
one address, and a patient attacker spreads guesses over many. This counts failures per
account name instead: `attempts` failures (password or code) within `window` seconds lock the
account for `duration` seconds. A locked account is refused before its password is even
checked, with the very answer a wrong password gets, so nobody learns that it exists or is
locked. Failures are counted for any name, existing or not, for the same reason.

A lock that anyone can set, anyone can hold: an anonymous sender failing again and again would
keep an administrator out for good. So an address the account completed a login from (every
factor) within `trusted_seconds` is trusted for it: the account's lock does not apply there,
and failures from there are counted apart, locking that address only. Guesses from elsewhere
still lock the account everywhere else; its owner, at their usual place, is not locked out by
them. (Service accounts, usable from loopback only, never count failures from elsewhere: see
security_manager.py.)

The state lives in Superset's metadata database (tables of its own), so every gunicorn worker
and a restart see the same counts.
"""

import time
from dataclasses import dataclass

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, delete, func, select, text
from sqlalchemy.engine import Connection, Engine

metadata = MetaData()

login_failures = Table(
    "rempart_login_failures",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account", String(256), nullable=False, index=True),
    Column("failed_at", Float, nullable=False),
    Column("address", String(64)),
)

# A lock's scope: EVERYWHERE (every address not trusted for the account) or one address.
EVERYWHERE = "*"
login_locks = Table(
    "rempart_login_locks",
    metadata,
    Column("account", String(256), primary_key=True),
    Column("scope", String(64), primary_key=True),
    Column("locked_until", Float, nullable=False),
)

trusted_addresses = Table(
    "rempart_trusted_addresses",
    metadata,
    Column("account", String(256), primary_key=True),
    Column("address", String(64), primary_key=True),
    Column("trusted_until", Float, nullable=False),
)


def account_key(username: str) -> str:
    """Logins are case-insensitive (Superset's default), so is the count."""
    return (username or "").strip().lower()[:256]


@dataclass(frozen=True)
class LockoutPolicy:
    attempts: int
    window_seconds: float
    duration_seconds: float
    trusted_seconds: float = 30 * 86400


class AccountLockout:
    def __init__(self, engine: Engine, policy: LockoutPolicy) -> None:
        self.engine = engine
        self.policy = policy

    def create_tables(self) -> None:
        metadata.create_all(self.engine, checkfirst=True)
        with self.engine.begin() as conn:  # the locks of releases without trusted addresses
            conn.execute(text("drop table if exists rempart_account_locks"))

    @staticmethod
    def _trusted_addresses(conn: Connection, key: str, now: float) -> list[str]:
        return list(
            conn.execute(
                select(trusted_addresses.c.address).where(
                    trusted_addresses.c.account == key, trusted_addresses.c.trusted_until > now
                )
            ).scalars()
        )

    def is_locked(self, username: str, address: str | None, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        key, address = account_key(username), address or ""
        with self.engine.connect() as conn:
            trusted = address in self._trusted_addresses(conn, key, now)
            locked = conn.execute(
                select(func.count()).where(
                    login_locks.c.account == key,
                    login_locks.c.scope.in_([address] if trusted else [address, EVERYWHERE]),
                    login_locks.c.locked_until > now,
                )
            ).scalar()
        return bool(locked)

    def record_failure(self, username: str, address: str | None, now: float | None = None) -> bool:
        """Count one failure; True when it locks the account (everywhere, or at a trusted
        address)."""
        now = time.time() if now is None else now
        key, address = account_key(username), address or ""
        with self.engine.begin() as conn:
            conn.execute(
                login_failures.insert().values(account=key, failed_at=now, address=address)
            )
            conn.execute(
                delete(login_failures).where(
                    login_failures.c.failed_at < now - self.policy.window_seconds
                )
            )
            trusted = self._trusted_addresses(conn, key, now)
            counted = (
                login_failures.c.address == address
                if address in trusted
                else login_failures.c.address.not_in(trusted)
            )
            scope = address if address in trusted else EVERYWHERE
            recent = conn.execute(
                select(func.count()).where(login_failures.c.account == key, counted)
            ).scalar()
            if recent < self.policy.attempts:
                return False
            conn.execute(
                delete(login_locks).where(
                    login_locks.c.account == key, login_locks.c.scope == scope
                )
            )
            conn.execute(
                login_locks.insert().values(
                    account=key, scope=scope, locked_until=now + self.policy.duration_seconds
                )
            )
            # The lock starts a new count: after it, the next failures lock again.
            conn.execute(delete(login_failures).where(login_failures.c.account == key, counted))
        return True

    def record_success(self, username: str, address: str | None, now: float | None = None) -> None:
        """A login with every factor: the failures are forgotten, the address trusted."""
        now = time.time() if now is None else now
        key = account_key(username)
        with self.engine.begin() as conn:
            conn.execute(delete(login_failures).where(login_failures.c.account == key))
            if address:
                conn.execute(
                    delete(trusted_addresses).where(
                        trusted_addresses.c.account == key, trusted_addresses.c.address == address
                    )
                )
                conn.execute(
                    trusted_addresses.insert().values(
                        account=key,
                        address=address,
                        trusted_until=now + self.policy.trusted_seconds,
                    )
                )

    def unlock(self, username: str) -> bool:
        """Lift every lock of the account and forget its failures; True if it was locked."""
        key = account_key(username)
        now = time.time()
        with self.engine.begin() as conn:
            was_locked = conn.execute(
                select(func.count()).where(
                    login_locks.c.account == key, login_locks.c.locked_until > now
                )
            ).scalar()
            conn.execute(delete(login_locks).where(login_locks.c.account == key))
            conn.execute(delete(login_failures).where(login_failures.c.account == key))
        return bool(was_locked)
