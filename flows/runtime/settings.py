"""Runtime settings, read from `REMPART_*` variables and an optional `.env`.

`Settings` holds what every command needs (paths, the database, who acts) and one part per
component, each a model of its own read from the same variables as ever (`REMPART_SMTP_HOST`
is `settings.mail.host`): a component is handed its own part only, as the loaders are handed
a `LandingConfig`.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_DIR = Path(__file__).resolve().parents[2]
ENV_FILE = PROJECT_DIR / ".env"


class Component(BaseSettings):
    """A part of the settings: its variables are `env_prefix` + the field's name."""

    model_config = SettingsConfigDict(
        env_prefix="REMPART_",
        env_file=ENV_FILE,
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )


class SupersetSettings(Component):
    """Superset's server: `REMPART_SUPERSET_*`, and `REMPART_WATERMARK`."""

    model_config = SettingsConfigDict(env_prefix="REMPART_SUPERSET_")

    port: int = Field(default=8088, gt=0, lt=65536, description="Superset's port.")
    workers: int = Field(
        default=3,
        gt=0,
        le=32,
        description="Superset's gunicorn worker processes (benchmarks/dashboards.py compares).",
    )
    threads: int = Field(
        default=4, gt=0, le=64, description="Threads of each Superset worker process."
    )
    celery_concurrency: int = Field(
        default=2, gt=0, le=32, description="Processes of Superset's Celery worker."
    )
    behind_https: bool = Field(
        default=False,
        description="Superset is reached through a TLS-terminating proxy: Secure cookies.",
    )
    lockout_attempts: int = Field(
        default=5, gt=0, description="Failed logins of one account that lock it."
    )
    lockout_window_minutes: float = Field(
        default=15, gt=0, description="Within how many minutes those failures count."
    )
    lockout_minutes: float = Field(
        default=15, gt=0, description="How long a locked account stays locked."
    )
    session_idle_minutes: float = Field(
        default=30, gt=0, description="A Superset session unused this long ends."
    )
    internal_url: str = Field(
        default="",
        description="Where Superset's own workers reach it (the reports' browser); unset: "
        "http://127.0.0.1:<port>.",
    )
    public_url: str = Field(
        default="",
        description="Where people reach Superset, for the links in reports; unset: the "
        "internal URL.",
    )
    watermark: str = Field(
        validation_alias=AliasChoices("watermark", "REMPART_WATERMARK"),
        default="CONFIDENTIEL \N{EN DASH} {username} \N{EN DASH} {datetime}",
        description="The statement on every PDF, PNG, CSV and Excel file that leaves Rempart: "
        "{username} and {datetime} are replaced.",
    )
    sync: bool = Field(
        default=True,
        description="Whether `rempart run` starts Superset and syncs it (false: dbt only).",
    )
    alerts_after_publish: bool = Field(
        default=True,
        description="Whether the alerts marked after_publish are evaluated right after each "
        "publication of the marts (false: on their schedules only).",
    )


class DirectorySettings(Component):
    """Who logs in, and how: `REMPART_AUTH`, `REMPART_MFA`, `REMPART_LDAP_*`, `REMPART_OIDC_*`,
    `REMPART_DIRECTORY_*`."""

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

    @property
    def mfa_policy(self) -> str:
        if self.mfa is not None:
            return self.mfa
        return "off" if self.auth == "oidc" else "required"


class MailSettings(Component):
    """The mail server of reports and alerts: `REMPART_SMTP_*`."""

    model_config = SettingsConfigDict(env_prefix="REMPART_SMTP_")

    host: str = Field(
        default="",
        description="Mail server of reports and alerts; unset: they run, and Superset logs what "
        "it would have sent instead of sending it.",
    )
    port: int = Field(default=587, gt=0, lt=65536, description="Its port.")
    starttls: bool = Field(default=True, description="Upgrade the connection with STARTTLS.")
    ssl: bool = Field(default=False, description="Connect with TLS from the start (465).")
    user: str = Field(
        default="",
        description="Account at the mail server, if it asks for one; its password is the "
        "secret smtp_password of the secrets store, never sent without TLS.",
    )
    mail_from: str = Field(
        default="rempart@localhost", description="The sender of reports and alerts."
    )


class BackupSettings(Component):
    """Backup sets, where and how many: `REMPART_BACKUP_*`."""

    model_config = SettingsConfigDict(env_prefix="REMPART_BACKUP_")

    dirs: str = Field(
        default="",
        description="Where backup sets go, separated by ':' (other disks, mounted remote "
        "storage); unset: <state>/backups.",
    )
    keep_daily: int = Field(default=7, ge=0, description="Daily backup sets kept.")
    keep_weekly: int = Field(default=4, ge=0, description="Weekly backup sets kept.")
    keep_monthly: int = Field(default=6, ge=0, description="Monthly backup sets kept.")

    def destinations(self, state_dir: Path) -> list[Path]:
        if not self.dirs.strip():
            return [state_dir / "backups"]
        return [Path(part).expanduser().resolve() for part in self.dirs.split(":") if part]


class UploadSettings(Component):
    """The upload page: `REMPART_UPLOAD_*`."""

    model_config = SettingsConfigDict(env_prefix="REMPART_UPLOAD_")

    port: int = Field(
        default=8590, gt=0, lt=65536, description="The upload page's port, on 127.0.0.1."
    )
    max_file_size_mb: int = Field(
        default=100, gt=0, description="Largest file the upload page accepts."
    )


class ValkeySettings(Component):
    """The Redis-compatible server (Valkey) of caches, rate limits and Celery: `REMPART_REDIS_*`."""

    model_config = SettingsConfigDict(env_prefix="REMPART_REDIS_")

    url: str = Field(
        default="",
        description="An external Redis or Valkey (redis:// or rediss:// for TLS, password in "
        "the URL); unset: the embedded Valkey server.",
    )
    url_file: Path | None = Field(
        default=None,
        description="A file holding that URL (a Docker secret), so the password is in no "
        "environment variable.",
    )
    port: int = Field(
        default=6390, gt=0, lt=65536, description="The embedded Valkey server's port, on 127.0.0.1."
    )
    max_memory_mb: int = Field(
        default=256, gt=0, description="The embedded Valkey server's memory limit."
    )

    def model_post_init(self, _context: object) -> None:
        if self.url_file and not self.url:
            object.__setattr__(self, "url", self.url_file.read_text(encoding="utf-8").strip())


# Settings' field for each component; each reads the same `.env` as `Settings` itself.
COMPONENTS: dict[str, type[Component]] = {
    "superset": SupersetSettings,
    "directory": DirectorySettings,
    "mail": MailSettings,
    "backup": BackupSettings,
    "upload": UploadSettings,
    "redis": ValkeySettings,
}


class Settings(BaseSettings):
    """Everything Rempart reads from its environment.

    Paths default to folders of the project; relative paths are taken from the project root,
    so the command behaves the same from any working directory.
    """

    model_config = SettingsConfigDict(
        env_prefix="REMPART_",
        env_file=ENV_FILE,
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
    listen_host: str = Field(
        default="127.0.0.1",
        description="The address Superset and `rempart metrics` listen on: this machine only. "
        "In a container, its private network (0.0.0.0), which the compose file never publishes.",
    )
    metrics_token: bool = Field(
        default=False,
        description="`rempart metrics` requires the bearer token metrics_token of the secrets "
        "store.",
    )
    superset: SupersetSettings
    directory: DirectorySettings
    mail: MailSettings
    backup: BackupSettings
    upload: UploadSettings
    redis: ValkeySettings

    def __init__(self, **values: Any) -> None:
        # A component not given is read from the environment, and the same `.env` file
        # (`_env_file`, when a caller names one) as the rest.
        env_file = {"_env_file": values["_env_file"]} if "_env_file" in values else {}
        for name, component in COMPONENTS.items():
            if name not in values:
                values[name] = component(**env_file)
        super().__init__(**values)

    @property
    def backup_destinations(self) -> list[Path]:
        return self.backup.destinations(self.state_dir)

    def model_post_init(self, _context: object) -> None:
        for name in ("state_dir", "inbox_dir", "archive_dir", "quarantine_dir"):
            path: Path = getattr(self, name).expanduser()
            if not path.is_absolute():
                path = PROJECT_DIR / path
            object.__setattr__(self, name, path)

    @property
    def secrets_dir(self) -> Path:
        return self.state_dir / "secrets"

    @property
    def audit_anchor(self) -> Path:
        """The audit trail's newest event as last anchored, outside the database."""
        return self.state_dir / "audit_anchor.json"

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


def variable_name(model_name: str, location: tuple[int | str, ...]) -> str:
    """The `REMPART_*` variable behind a field of `Settings` or of one of its components."""
    prefixes = {
        model.__name__: model.model_config.get("env_prefix", "") for model in COMPONENTS.values()
    }
    name = "_".join(map(str, location)).upper()
    return name if name.startswith("REMPART_") else prefixes.get(model_name, "REMPART_") + name
