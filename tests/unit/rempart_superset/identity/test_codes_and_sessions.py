"""The second factor's and the session registry's rules, on a real SQLite database (the kind
Superset's metadata lives in): codes within one step, each once; recovery codes once each;
secrets encrypted and bound to their account; sessions that end when idle, old or closed."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import create_engine

from flows.runtime.settings import PROJECT_DIR

sys.path.insert(0, str(PROJECT_DIR / "superset"))

from rempart_superset.identity.second_factor import STEP_SECONDS, SecondFactor
from rempart_superset.identity.session_registry import SessionRegistry

NOW = 1_800_000_000.0  # a time step boundary: 60_000_000 * 30
KEY = "superset secret key of this test"


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "superset.db"


@pytest.fixture
def factor(database: Path) -> SecondFactor:
    second_factor = SecondFactor(create_engine(f"sqlite:///{database}"), KEY)
    second_factor.create_tables()
    return second_factor


def _enrolled(factor: SecondFactor, user_id: int = 1) -> tuple[pyotp.TOTP, list[str]]:
    enrolment = factor.start_enrolment(user_id, "someone", now=NOW)
    totp = pyotp.parse_uri(enrolment.uri)
    assert totp.secret == enrolment.secret and "issuer=Rempart" in enrolment.uri
    codes = factor.confirm_enrolment(user_id, totp.at(NOW), now=NOW)
    assert codes is not None
    return totp, codes


def test_enrolment_is_confirmed_by_a_first_right_code(factor: SecondFactor) -> None:
    enrolment = factor.start_enrolment(1, "someone", now=NOW)
    assert not factor.is_enrolled(1)
    assert factor.start_enrolment(1, "someone", now=NOW + 60).secret == enrolment.secret
    totp = pyotp.TOTP(enrolment.secret)
    assert factor.confirm_enrolment(1, totp.at(0), now=NOW) is None  # a code of 1970
    codes = factor.confirm_enrolment(1, totp.at(NOW), now=NOW)
    assert factor.is_enrolled(1)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert factor.recovery_codes_left(1) == 10
    with pytest.raises(ValueError, match="already enrolled"):
        factor.start_enrolment(1, "someone", now=NOW)


def test_a_stale_enrolment_gets_a_new_secret(factor: SecondFactor) -> None:
    first = factor.start_enrolment(1, "someone", now=NOW)
    later = NOW + 3600
    assert factor.confirm_enrolment(1, pyotp.TOTP(first.secret).at(later), now=later) is None
    assert factor.start_enrolment(1, "someone", now=later).secret != first.secret


def test_codes_are_accepted_one_step_either_way_and_once(factor: SecondFactor) -> None:
    totp, _ = _enrolled(factor)  # spent the step of NOW
    later = NOW + 10 * STEP_SECONDS
    assert factor.verify(1, totp.at(later - 2 * STEP_SECONDS), now=later) is None  # too old
    assert factor.verify(1, totp.at(later + 2 * STEP_SECONDS), now=later) is None  # too early
    assert factor.verify(1, totp.at(later - STEP_SECONDS), now=later) == "totp"
    assert factor.verify(1, totp.at(later - STEP_SECONDS), now=later) is None  # replayed
    assert factor.verify(1, totp.at(later), now=later) == "totp"
    assert factor.verify(1, totp.at(later - STEP_SECONDS), now=later) is None  # older: refused
    assert factor.verify(1, totp.at(later + STEP_SECONDS), now=later) == "totp"
    assert factor.verify(1, totp.at(later), now=later) is None
    assert factor.verify(1, "not a code", now=later) is None


def test_recovery_codes_work_once_each(factor: SecondFactor) -> None:
    _, codes = _enrolled(factor)
    assert factor.verify(1, codes[0].upper().replace("-", " "), now=NOW) == "recovery_code"
    assert factor.verify(1, codes[0], now=NOW) is None
    assert factor.recovery_codes_left(1) == 9
    assert factor.verify(2, codes[1], now=NOW) is None  # another account's code


def test_secrets_are_stored_encrypted_and_bound_to_their_account(
    factor: SecondFactor, database: Path
) -> None:
    totp, codes = _enrolled(factor)
    raw = database.read_bytes()
    assert totp.secret.encode() not in raw and totp.byte_secret() not in raw
    assert not any(code.encode() in raw or code.replace("-", "").encode() in raw for code in codes)
    with sqlite3.connect(database) as conn:  # the row copied onto another account
        conn.execute(
            "insert into rempart_mfa_enrolments select 2, secret, created_at, confirmed_at, "
            "-1 from rempart_mfa_enrolments where user_id = 1"
        )
    with pytest.raises(Exception):  # noqa: B017 (any decryption failure)
        factor.verify(2, totp.at(NOW + 300), now=NOW + 300)
    other_key = SecondFactor(factor.engine, "another key")
    with pytest.raises(Exception):  # noqa: B017
        other_key.verify(1, totp.at(NOW + 300), now=NOW + 300)


def test_reset_forgets_the_enrolment_and_its_codes(factor: SecondFactor) -> None:
    totp, codes = _enrolled(factor)
    assert factor.reset(1)
    assert not factor.is_enrolled(1)
    assert factor.verify(1, codes[0], now=NOW) is None
    assert factor.verify(1, totp.at(NOW + 60), now=NOW + 60) is None
    assert not factor.reset(1)


def test_demo_enrolment_with_a_known_secret_keeps_its_replay_state(factor: SecondFactor) -> None:
    secret = pyotp.random_base32()
    assert factor.enrol_with_secret(1, secret, now=NOW)
    assert factor.verify(1, pyotp.TOTP(secret).at(NOW), now=NOW) == "totp"
    assert not factor.enrol_with_secret(1, secret, now=NOW)
    assert factor.verify(1, pyotp.TOTP(secret).at(NOW), now=NOW) is None


def test_sessions_end_when_idle_too_old_or_closed(database: Path) -> None:
    registry = SessionRegistry(create_engine(f"sqlite:///{database}"), 1800, 8 * 3600)
    registry.create_tables()
    token = registry.open(7, "totp", now=NOW)
    assert token not in database.read_bytes().decode("latin-1")  # only its hash is kept
    assert registry.check(token, 7, now=NOW + 1000)
    assert not registry.check(token, 8, now=NOW + 1000)  # another user's cookie
    assert registry.check(token, 7, now=NOW + 2700)  # used at +1000: not idle yet
    assert not registry.check(token, 7, now=NOW + 2700 + 1801)  # idle: gone for good
    assert not registry.check(token, 7, now=NOW + 2700)

    busy = registry.open(7, "totp", now=NOW)
    for minute in range(1, 8 * 60, 20):
        assert registry.check(busy, 7, now=NOW + minute * 60)
    assert not registry.check(busy, 7, now=NOW + 8 * 3600 + 1)  # absolute lifetime

    closed = registry.open(7, "totp", now=NOW)
    registry.close(closed)
    assert not registry.check(closed, 7, now=NOW)
    registry.open(7, "totp", now=NOW)
    registry.open(7, "totp", now=NOW)
    assert registry.close_all_for(7) == 2
    assert not registry.check(None, 7) and not registry.check("", 7)


def test_a_session_ends_when_its_account_s_password_changes(database: Path) -> None:
    registry = SessionRegistry(create_engine(f"sqlite:///{database}"), 1800, 8 * 3600)
    registry.create_tables()
    token = registry.open(7, "totp", now=NOW, credential="digest of the old hash")
    assert registry.check(token, 7, now=NOW + 1, credential="digest of the old hash")
    assert not registry.check(token, 7, now=NOW + 2, credential="digest of the new hash")
    assert not registry.check(token, 7, now=NOW + 3, credential="digest of the old hash")


def test_sessions_of_a_release_before_credentials_end_at_the_upgrade(database: Path) -> None:
    with sqlite3.connect(database) as old:
        old.execute(
            "create table rempart_sessions (token_hash varchar(64) primary key, "
            "user_id integer not null, created_at float not null, last_seen float not null, "
            "factor varchar(32) not null)"
        )
        old.execute("insert into rempart_sessions values ('h', 7, 1, 1, 'totp')")
    registry = SessionRegistry(create_engine(f"sqlite:///{database}"), 1800, 8 * 3600)
    registry.create_tables()
    token = registry.open(7, "totp", now=NOW)
    assert registry.check(token, 7, now=NOW + 1)
    with sqlite3.connect(database) as db:
        assert db.execute("select count(*) from rempart_sessions").fetchone() == (1,)
