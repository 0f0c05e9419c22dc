"""The second factor: time-based one-time codes (RFC 6238) and single-use recovery codes.

One enrolment per Superset user, in Superset's metadata database:
* the TOTP secret, encrypted with AES-256-GCM under a key derived from Superset's secret key
  (bound to the user's id, so a row copied onto another user does not decrypt); it is never
  stored, logged or put in a cookie in clear;
* the last time step a code was accepted for: a code is accepted within one step either way of
  now, and only for a step later than that one, so no code (nor an older one) works twice;
* ten recovery codes, stored as HMAC-SHA256 hashes only, each one usable once.

An enrolment starts unconfirmed and becomes valid with the first right code; an unconfirmed
one older than ENROLMENT_SECONDS is replaced by a new secret.
"""

import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass

import pyotp
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import (
    Column,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine, Row

STEP_SECONDS = 30
ENROLMENT_SECONDS = 600
RECOVERY_CODES = 10
ISSUER = "Rempart"

metadata = MetaData()

enrolments = Table(
    "rempart_mfa_enrolments",
    metadata,
    Column("user_id", Integer, primary_key=True),
    Column("secret", LargeBinary, nullable=False),  # 12-byte nonce + AES-GCM ciphertext
    Column("created_at", Float, nullable=False),
    Column("confirmed_at", Float),
    Column("last_step", Integer, nullable=False),
)

recovery_codes = Table(
    "rempart_mfa_recovery_codes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, nullable=False, index=True),
    Column("code_hash", String(64), nullable=False),
    Column("used_at", Float),
)


def _derive(secret_key: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        secret_key.encode("utf-8")
    )


def _normalised(code: str) -> str:
    return "".join(ch for ch in (code or "") if ch.isalnum()).lower()


def qr_code_data_uri(uri: str) -> str:
    """The otpauth URI as a QR code, an SVG data URI: drawn here, nothing fetched, no script."""
    import segno  # only in Superset's environment; the rest is tested from the project's

    return segno.make(uri, error="m").svg_data_uri(scale=5, dark="#111", light="#fff")


@dataclass(frozen=True)
class Enrolment:
    secret: str
    uri: str


class SecondFactor:
    def __init__(self, engine: Engine, secret_key: str) -> None:
        self.engine = engine
        self._aead = AESGCM(_derive(secret_key, b"rempart superset totp secrets"))
        self._recovery_key = _derive(secret_key, b"rempart superset recovery codes")

    def create_tables(self) -> None:
        metadata.create_all(self.engine, checkfirst=True)

    # -- secrets at rest ---------------------------------------------------------------------

    def _seal(self, user_id: int, secret: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, secret.encode("ascii"), str(user_id).encode())

    def _open(self, user_id: int, sealed: bytes) -> str:
        return self._aead.decrypt(sealed[:12], sealed[12:], str(user_id).encode()).decode("ascii")

    def _recovery_hash(self, code: str) -> str:
        return hmac.new(self._recovery_key, _normalised(code).encode(), hashlib.sha256).hexdigest()

    def _replace_enrolment(
        self, conn: Connection, user_id: int, secret: str, now: float, confirmed: bool
    ) -> None:
        conn.execute(delete(enrolments).where(enrolments.c.user_id == user_id))
        conn.execute(
            enrolments.insert().values(
                user_id=user_id,
                secret=self._seal(user_id, secret),
                created_at=now,
                confirmed_at=now if confirmed else None,
                last_step=-1,
            )
        )

    def _row(self, conn: Connection, user_id: int) -> Row | None:
        return conn.execute(select(enrolments).where(enrolments.c.user_id == user_id)).first()

    def reseal_from(self, previous_secret_key: str) -> tuple[int, list[int]]:
        """After a secret-key rotation: every second-factor secret sealed under the previous
        key is sealed under this one. Recovery codes, hashed under the previous key, cannot
        follow: they are deleted. Returns (secrets resealed, ids of the accounts that had
        unused recovery codes)."""
        previous = SecondFactor(self.engine, previous_secret_key)
        with self.engine.begin() as conn:
            rows = conn.execute(select(enrolments.c.user_id, enrolments.c.secret)).all()
            for user_id, sealed in rows:
                secret = previous._open(user_id, sealed)
                conn.execute(
                    update(enrolments)
                    .where(enrolments.c.user_id == user_id)
                    .values(secret=self._seal(user_id, secret))
                )
            had_codes = conn.execute(
                select(recovery_codes.c.user_id)
                .where(recovery_codes.c.used_at.is_(None))
                .distinct()
            ).scalars()
            had_codes = sorted(had_codes)
            conn.execute(delete(recovery_codes))
        return len(rows), had_codes

    # -- enrolment ---------------------------------------------------------------------------

    def is_enrolled(self, user_id: int) -> bool:
        with self.engine.connect() as conn:
            row = self._row(conn, user_id)
        return row is not None and row.confirmed_at is not None

    def start_enrolment(self, user_id: int, username: str, now: float | None = None) -> Enrolment:
        """The pending secret to show (the same one while it is fresh), or a new one."""
        now = time.time() if now is None else now
        with self.engine.begin() as conn:
            row = self._row(conn, user_id)
            if row is not None and row.confirmed_at is not None:
                raise ValueError("this account is already enrolled")
            if row is not None and now - row.created_at < ENROLMENT_SECONDS:
                secret = self._open(user_id, row.secret)
            else:
                secret = pyotp.random_base32()  # 160 bits, as RFC 4226 recommends
                self._replace_enrolment(conn, user_id, secret, now, confirmed=False)
        uri = pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)
        return Enrolment(secret, uri)

    def confirm_enrolment(
        self, user_id: int, code: str, now: float | None = None
    ) -> list[str] | None:
        """The first right code confirms the enrolment: returns the recovery codes (shown once,
        kept as hashes only), or None if the code is wrong or the enrolment is stale."""
        now = time.time() if now is None else now
        with self.engine.connect() as conn:
            row = self._row(conn, user_id)
        if row is None or row.confirmed_at is not None:
            return None
        if now - row.created_at >= ENROLMENT_SECONDS:
            return None
        if not self._accept_totp(user_id, row, code, now, confirming=True):
            return None
        codes = [self._new_recovery_code() for _ in range(RECOVERY_CODES)]
        with self.engine.begin() as conn:
            conn.execute(delete(recovery_codes).where(recovery_codes.c.user_id == user_id))
            conn.execute(
                recovery_codes.insert(),
                [{"user_id": user_id, "code_hash": self._recovery_hash(c)} for c in codes],
            )
        return codes

    def enrol_with_secret(self, user_id: int, secret: str, now: float | None = None) -> bool:
        """Enrol an account with a secret the operator holds (the demo accounts' secrets in the
        secrets store). Keeps the enrolment, and its replay state, when the secret is the same;
        True when it changed something."""
        now = time.time() if now is None else now
        with self.engine.begin() as conn:
            row = self._row(conn, user_id)
            if (
                row is not None
                and row.confirmed_at is not None
                and hmac.compare_digest(self._open(user_id, row.secret), secret)
            ):
                return False
            conn.execute(delete(recovery_codes).where(recovery_codes.c.user_id == user_id))
            self._replace_enrolment(conn, user_id, secret, now, confirmed=True)
        return True

    def reset(self, user_id: int) -> bool:
        """Forget the enrolment and its recovery codes; True if there was one."""
        with self.engine.begin() as conn:
            removed = conn.execute(delete(enrolments).where(enrolments.c.user_id == user_id))
            conn.execute(delete(recovery_codes).where(recovery_codes.c.user_id == user_id))
        return bool(removed.rowcount)

    # -- verification ------------------------------------------------------------------------

    def verify(self, user_id: int, code: str, now: float | None = None) -> str | None:
        """'totp' or 'recovery_code' when the code is accepted (and spent), else None."""
        now = time.time() if now is None else now
        with self.engine.connect() as conn:
            row = self._row(conn, user_id)
        if row is None or row.confirmed_at is None:
            return None
        normalised = _normalised(code)
        if normalised.isdigit() and len(normalised) == 6:
            return "totp" if self._accept_totp(user_id, row, normalised, now) else None
        if len(normalised) == 10:
            with self.engine.begin() as conn:
                spent = conn.execute(
                    update(recovery_codes)
                    .where(
                        recovery_codes.c.user_id == user_id,
                        recovery_codes.c.code_hash == self._recovery_hash(normalised),
                        recovery_codes.c.used_at.is_(None),
                    )
                    .values(used_at=now)
                )
            return "recovery_code" if spent.rowcount == 1 else None
        return None

    def recovery_codes_left(self, user_id: int) -> int:
        with self.engine.connect() as conn:
            return conn.execute(
                select(func.count()).where(
                    recovery_codes.c.user_id == user_id, recovery_codes.c.used_at.is_(None)
                )
            ).scalar()

    def _accept_totp(
        self, user_id: int, row: Row, code: str, now: float, confirming: bool = False
    ) -> bool:
        code = _normalised(code)
        if not (code.isdigit() and len(code) == 6):
            return False
        totp = pyotp.TOTP(self._open(user_id, row.secret))
        current = int(now // STEP_SECONDS)
        for step in (current - 1, current, current + 1):
            if step <= row.last_step:
                continue
            if hmac.compare_digest(totp.generate_otp(step), code):
                # Compare-and-set: of two requests racing with one code, one wins.
                with self.engine.begin() as conn:
                    values = {"last_step": step}
                    if confirming:
                        values["confirmed_at"] = now
                    won = conn.execute(
                        update(enrolments)
                        .where(enrolments.c.user_id == user_id, enrolments.c.last_step < step)
                        .values(**values)
                    )
                return won.rowcount == 1
        return False

    @staticmethod
    def _new_recovery_code() -> str:
        alphabet = "abcdefghjkmnpqrstuvwxyz23456789"  # nothing to misread: no 0/o, 1/l/i
        raw = "".join(secrets.choice(alphabet) for _ in range(10))
        return f"{raw[:5]}-{raw[5:]}"
