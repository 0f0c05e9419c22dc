"""Runtime settings: one typed object, read from `REMPART_*` variables and an optional `.env`."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_DIR = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    """Everything Rempart reads from its environment.

    Paths default to folders of the project; relative paths are taken from the project root,
    so the command behaves the same from any working directory.
    """

    model_config = SettingsConfigDict(
        env_prefix="REMPART_",
        env_file=PROJECT_DIR / ".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    state_dir: Path = Field(
        default=Path(".rempart"),
        description="State folder: embedded database, secrets, logs, Prefect and Superset state.",
    )
    database_url: str | None = Field(
        default=None,
        description="libpq URL of an external PostgreSQL server; unset means the embedded one.",
    )
    inbox_dir: Path = Field(default=Path("data/inbox"), description="Where new files arrive.")
    archive_dir: Path = Field(
        default=Path("data/archive"), description="Encrypted copies of landed files."
    )
    quarantine_dir: Path = Field(
        default=Path("data/quarantine"), description="Rejected files and their error reports."
    )
    max_file_size_mb: int = Field(default=512, gt=0, description="Largest file the loader accepts.")
    csv_encoding: str = Field(
        default="auto",
        description="Encoding of CSV files: auto (UTF-8, else Windows-1252), utf-8, cp1252, "
        "latin-1.",
    )
    user: str = Field(
        default_factory=getpass.getuser, description="Who is acting, as written to the audit trail."
    )
    superset_port: int = Field(default=8088, gt=0, lt=65536, description="Superset's port.")
    listen_host: str = Field(
        default="127.0.0.1",
        description="The address Superset and `rempart metrics` listen on: this machine only. "
        "In a container, its private network (0.0.0.0), which the compose file never publishes.",
    )
    redis_url: str = Field(
        default="",
        description="An external Redis or Valkey (redis:// or rediss:// for TLS, password in "
        "the URL); unset: the embedded Valkey server.",
    )
    redis_url_file: Path | None = Field(
        default=None,
        description="A file holding that URL (a Docker secret), so the password is in no "
        "environment variable.",
    )
    redis_port: int = Field(
        default=6390, gt=0, lt=65536, description="The embedded Valkey server's port, on 127.0.0.1."
    )
    metrics_token: bool = Field(
        default=False,
        description="`rempart metrics` requires the bearer token metrics_token of the secrets "
        "store.",
    )
    redis_max_memory_mb: int = Field(
        default=256, gt=0, description="The embedded Valkey server's memory limit."
    )
    superset_workers: int = Field(
        default=3,
        gt=0,
        le=32,
        description="Superset's gunicorn worker processes (benchmarks/dashboards.py compares).",
    )
    superset_threads: int = Field(
        default=4, gt=0, le=64, description="Threads of each Superset worker process."
    )
    superset_celery_concurrency: int = Field(
        default=2, gt=0, le=32, description="Processes of Superset's Celery worker."
    )
    superset_behind_https: bool = Field(
        default=False,
        description="Superset is reached through a TLS-terminating proxy: Secure cookies.",
    )
    superset_lockout_attempts: int = Field(
        default=5, gt=0, description="Failed logins of one account that lock it."
    )
    superset_lockout_window_minutes: float = Field(
        default=15, gt=0, description="Within how many minutes those failures count."
    )
    superset_lockout_minutes: float = Field(
        default=15, gt=0, description="How long a locked account stays locked."
    )
    auth: Literal["db", "ldap", "oidc"] = Field(
        default="db",
        description="Who checks passwords: Superset's own accounts (db), the organisation's "
        "LDAP directory (ldap) or its OpenID Connect identity provider (oidc).",
    )
    mfa: Literal["required", "optional", "off"] | None = Field(
        default=None,
        description="Second factor at login: required for everyone, optional (only for those "
        "who enrolled), or off. Unset: required, except with oidc, where it is the identity "
        "provider's job.",
    )
    oidc_issuer: str = Field(default="", description="The identity provider's issuer URL.")
    oidc_client_id: str = Field(default="", description="Rempart's client id at the provider.")
    oidc_scope: str = Field(default="openid email profile", description="Scopes asked for.")
    oidc_username_claim: str = Field(
        default="preferred_username", description="ID token claim holding the login name."
    )
    oidc_groups_claim: str = Field(
        default="groups", description="ID token (or userinfo) claim listing the groups."
    )
    ldap_url: str = Field(default="", description="ldaps://host or ldap://host (with StartTLS).")
    ldap_start_tls: bool = Field(default=False, description="Upgrade ldap:// with StartTLS.")
    ldap_ca_file: str = Field(default="", description="CA certificates to trust (PEM file).")
    ldap_bind_dn: str = Field(default="", description="The account that searches the directory.")
    ldap_user_base: str = Field(default="", description="Where people are searched.")
    ldap_uid_attribute: str = Field(
        default="uid", description="Login name attribute (Active Directory: sAMAccountName)."
    )
    ldap_user_filter: str = Field(default="(objectClass=person)", description="Who may log in.")
    ldap_group_base: str = Field(default="", description="Where groups are searched.")
    ldap_group_filter: str = Field(
        default="(objectClass=groupOfNames)",
        description="What a group is (Active Directory: (objectClass=group)).",
    )
    directory_admin_group: str = Field(
        default="rempart-admins", description="Directory group of Superset administrators."
    )
    directory_analyst_group: str = Field(
        default="rempart-analysts", description="Directory group of analysts (every department)."
    )
    superset_session_idle_minutes: float = Field(
        default=30, gt=0, description="A Superset session unused this long ends."
    )
    backup_dirs: str = Field(
        default="",
        description="Where backup sets go, separated by ':' (other disks, mounted remote "
        "storage); unset: <state>/backups.",
    )
    backup_keep_daily: int = Field(default=7, ge=0, description="Daily backup sets kept.")
    backup_keep_weekly: int = Field(default=4, ge=0, description="Weekly backup sets kept.")
    backup_keep_monthly: int = Field(default=6, ge=0, description="Monthly backup sets kept.")
    smtp_host: str = Field(
        default="",
        description="Mail server of reports and alerts; unset: they run, and Superset logs what "
        "it would have sent instead of sending it.",
    )
    smtp_port: int = Field(default=587, gt=0, lt=65536, description="Its port.")
    smtp_starttls: bool = Field(default=True, description="Upgrade the connection with STARTTLS.")
    smtp_ssl: bool = Field(default=False, description="Connect with TLS from the start (465).")
    smtp_user: str = Field(
        default="",
        description="Account at the mail server, if it asks for one; its password is the "
        "secret smtp_password of the secrets store, never sent without TLS.",
    )
    smtp_mail_from: str = Field(
        default="rempart@localhost", description="The sender of reports and alerts."
    )
    upload_port: int = Field(
        default=8590, gt=0, lt=65536, description="The upload page's port, on 127.0.0.1."
    )
    upload_max_file_size_mb: int = Field(
        default=100, gt=0, description="Largest file the upload page accepts."
    )
    superset_internal_url: str = Field(
        default="",
        description="Where Superset's own workers reach it (the reports' browser); unset: "
        "http://127.0.0.1:<port>.",
    )
    superset_public_url: str = Field(
        default="",
        description="Where people reach Superset, for the links in reports; unset: the "
        "internal URL.",
    )
    watermark: str = Field(
        default="CONFIDENTIEL \N{EN DASH} {username} \N{EN DASH} {datetime}",
        description="The statement on every PDF, PNG, CSV and Excel file that leaves Rempart: "
        "{username} and {datetime} are replaced.",
    )
    superset_sync: bool = Field(
        default=True,
        description="Whether `rempart run` starts Superset and syncs it (false: dbt only).",
    )

    @property
    def backup_destinations(self) -> list[Path]:
        if not self.backup_dirs.strip():
            return [self.state_dir / "backups"]
        return [Path(part).expanduser().resolve() for part in self.backup_dirs.split(":") if part]

    @property
    def mfa_policy(self) -> str:
        if self.mfa is not None:
            return self.mfa
        return "off" if self.auth == "oidc" else "required"

    def model_post_init(self, _context: object) -> None:
        if self.redis_url_file and not self.redis_url:
            url = self.redis_url_file.read_text(encoding="utf-8").strip()
            object.__setattr__(self, "redis_url", url)
        for name in ("state_dir", "inbox_dir", "archive_dir", "quarantine_dir"):
            path: Path = getattr(self, name).expanduser()
            if not path.is_absolute():
                path = PROJECT_DIR / path
            object.__setattr__(self, name, path)

    @property
    def secrets_dir(self) -> Path:
        return self.state_dir / "secrets"

    @property
    def project_dir(self) -> Path:
        return PROJECT_DIR

    @property
    def dbt_target_dir(self) -> Path:
        """Where dbt writes manifest.json and run results (dbt's own DBT_TARGET_PATH wins)."""
        return Path(os.environ.get("DBT_TARGET_PATH") or PROJECT_DIR / "target")

    @property
    def uses_embedded_database(self) -> bool:
        return not self.database_url


def load_settings() -> Settings:
    """Read the settings afresh (the environment may have changed, e.g. in tests)."""
    return Settings()
