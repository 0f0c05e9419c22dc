"""The lockout's rules, on a real SQLite database (the kind Superset's metadata lives in):
failures from anywhere lock an account, but not where its owner logged in; failures there
count apart and lock that address only; a success or an unlock forgets them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from flows.runtime.settings import PROJECT_DIR

sys.path.insert(0, str(PROJECT_DIR / "superset"))

from rempart_superset.identity.account_lockout import AccountLockout, LockoutPolicy

NOW = 1_800_000_000.0
POLICY = LockoutPolicy(attempts=3, window_seconds=600, duration_seconds=900, trusted_seconds=86400)


@pytest.fixture
def lockout(tmp_path: Path) -> AccountLockout:
    made = AccountLockout(create_engine(f"sqlite:///{tmp_path / 'superset.db'}"), POLICY)
    made.create_tables()
    return made


def fail(lockout: AccountLockout, account: str, addresses: list[str], at: float = NOW) -> bool:
    return [lockout.record_failure(account, address, at) for address in addresses][-1]


def test_failures_from_several_addresses_lock_the_account_at_every_address(
    lockout: AccountLockout,
) -> None:
    assert not fail(lockout, "Admin", ["10.0.0.1", "10.0.0.2"])
    assert fail(lockout, "admin", ["10.0.0.3"])
    for address in ("10.0.0.1", "10.0.0.9", None):
        assert lockout.is_locked("ADMIN", address, NOW + 1)
    assert not lockout.is_locked("admin", "10.0.0.1", NOW + POLICY.duration_seconds + 1)
    assert not lockout.is_locked("someone else", "10.0.0.1", NOW + 1)


def test_an_anonymous_sender_cannot_lock_the_owner_out_of_their_own_address(
    lockout: AccountLockout,
) -> None:
    lockout.record_success("admin", "192.0.2.10", NOW - 3600)
    for round_start in (NOW, NOW + 1000, NOW + 2000):  # again and again
        assert fail(lockout, "admin", ["10.0.0.1", "10.0.0.2", "10.0.0.3"], round_start)
        assert lockout.is_locked("admin", "10.0.0.4", round_start + 1)
        assert not lockout.is_locked("admin", "192.0.2.10", round_start + 1)


def test_failures_at_a_trusted_address_count_apart_and_lock_that_address_only(
    lockout: AccountLockout,
) -> None:
    lockout.record_success("admin", "192.0.2.10", NOW - 3600)
    assert not fail(lockout, "admin", ["10.0.0.1", "10.0.0.2"])
    assert not fail(lockout, "admin", ["192.0.2.10", "192.0.2.10"])
    assert fail(lockout, "admin", ["192.0.2.10"])
    assert lockout.is_locked("admin", "192.0.2.10", NOW + 1)
    assert not lockout.is_locked("admin", "10.0.0.5", NOW + 1)  # two failures there, not three


def test_trust_ends_and_an_unlock_lifts_every_lock(lockout: AccountLockout) -> None:
    lockout.record_success("admin", "192.0.2.10", NOW - POLICY.trusted_seconds - 1)
    assert fail(lockout, "admin", ["10.0.0.1", "10.0.0.2", "10.0.0.3"])
    assert lockout.is_locked("admin", "192.0.2.10", NOW + 1)  # no longer trusted
    assert lockout.unlock("admin")
    assert not lockout.is_locked("admin", "10.0.0.1", NOW + 1)
    assert not lockout.unlock("admin")
