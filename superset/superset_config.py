"""Rempart's Superset settings, loaded through SUPERSET_CONFIG_PATH by `rempart superset start`.

Superset runs in its own environment (.venv-superset, SQLAlchemy 1.4), so this file imports
nothing from the project: every value it needs comes from the environment that
`flows/superset/server.py` prepares, and secrets come from files, never from variables.
"""

import json
import os
import sys
from datetime import timedelta
from pathlib import Path

from celery.schedules import crontab
from superset.tasks.types import ExecutorType

# Rempart's own modules for Superset live beside this file (superset/rempart_superset/).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from rempart_superset.audit.action_log_writer import ActionLogWriter
from rempart_superset.audit.request_events import RequestEventLogger
from rempart_superset.caching.chart_query_context import install as install_query_contexts
from rempart_superset.caching.chart_response_cache import install as install_answer_cache
from rempart_superset.caching.redis_state import RedisStatsLogger, cache_configs, redis_url
from rempart_superset.exports.export_marking import install as install_export_marking
from rempart_superset.exports.page_templates import install as install_page_templates
from rempart_superset.exports.report_delivery import install as install_report_delivery
from rempart_superset.exports.screenshot_downloads import install as install_screenshot_downloads
from rempart_superset.identity.account_lockout import LockoutPolicy
from rempart_superset.identity.login_attempts import failed_login
from rempart_superset.identity.mfa_views import mfa
from rempart_superset.identity.permission_memo import watch_permission_changes
from rempart_superset.identity.security_manager import RempartSecurityManager
from rempart_superset.names import SYNC_ACCOUNT
from rempart_superset.routes import refuse_unless_guarded
from rempart_superset.warehouse.warehouse_access import (
    ALL_DEPARTMENTS_WAREHOUSE_ROLE,
    check_warehouse_connection,
    check_warehouse_uri,
    warehouse_role_of,
)
from rempart_superset.warehouse.warehouse_pool import install as install_warehouse_pool


def _required(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise RuntimeError(f"{name} is not set: start Superset with `rempart superset start`")
    return value


def _secret_file(name: str, what: str) -> Path:
    path = Path(_required(name))
    if not path.is_file():
        raise RuntimeError(f"{what} is missing: put it in {path} (mode 0600)")
    return path


# A missing key must stop Superset: its fallback is a public constant, and the key also
# encrypts what Superset stores about database connections.
SECRET_KEY = Path(_required("SUPERSET_SECRET_KEY_FILE")).read_text(encoding="utf-8").strip()
if not SECRET_KEY:
    raise RuntimeError("the Superset secret key file is empty: refusing to start")

# Same default as Rempart's own settings: `.rempart/` at the project root.
_STATE_DIR = Path(
    os.environ.get("REMPART_STATE_DIR") or Path(__file__).resolve().parent.parent / ".rempart"
).resolve()
DATA_DIR = str(_STATE_DIR / "superset")  # else Superset writes to ~/.superset
SQLALCHEMY_DATABASE_URI = os.environ.get(
    "SUPERSET_METADATA_URI", f"sqlite:///{DATA_DIR}/superset.db?check_same_thread=false"
)
# Every gunicorn worker and the Celery worker write to the metadata (action log, sessions),
# which `rempart superset start` puts in WAL mode: wait for a writer rather than fail.
if SQLALCHEMY_DATABASE_URI.startswith("sqlite:"):
    SQLALCHEMY_ENGINE_OPTIONS = {"connect_args": {"timeout": 30}}


# Never the metadata URI: Superset may register it as a queryable "examples" database.
SQLALCHEMY_EXAMPLES_URI = f"sqlite:///{DATA_DIR}/examples.db?check_same_thread=false"
FILENAME = f"{DATA_DIR}/superset.log"

# Accounts are created by the operator only; nobody sees anything without logging in.
AUTH_USER_REGISTRATION = False
PUBLIC_ROLE_LIKE = None

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Served on 127.0.0.1 over plain HTTP by default. Behind a TLS-terminating reverse proxy
# (REMPART_SUPERSET_BEHIND_HTTPS=true), cookies are marked Secure and the proxy's
# X-Forwarded-* headers are trusted, so Superset builds https:// URLs.
BEHIND_HTTPS = os.environ.get("SUPERSET_BEHIND_HTTPS", "false") == "true"
SESSION_COOKIE_SECURE = BEHIND_HTTPS
REMEMBER_COOKIE_SECURE = BEHIND_HTTPS
REMEMBER_COOKIE_HTTPONLY = True
ENABLE_PROXY_FIX = BEHIND_HTTPS
PERMANENT_SESSION_LIFETIME = timedelta(hours=8)

# Who may log in, and how (rempart_superset/identity/security_manager.py): password, then a
# second factor (REMPART_MFA: required, optional or off), lockout per account, sessions known
# to the server. FAB's API keys would be a way in without either: off.
CUSTOM_SECURITY_MANAGER = RempartSecurityManager
FAB_API_KEY_ENABLED = False
REMPART_MFA = _required("REMPART_MFA")
REMPART_SESSION_IDLE_SECONDS = float(_required("REMPART_SESSION_IDLE_MINUTES")) * 60
# API tokens belong to a registered session too (idle, absolute limit, logout, reset, password
# change); on top of it, an access token lasts minutes and a refresh token no longer than a
# session may (flask-jwt-extended's default would be 30 days).
JWT_ACCESS_TOKEN_EXPIRES = timedelta(minutes=15)
JWT_REFRESH_TOKEN_EXPIRES = PERMANENT_SESSION_LIFETIME
# The pipeline's account: REST API only, from this machine only, no second factor.
REMPART_SERVICE_ACCOUNTS = (SYNC_ACCOUNT,)

# Who checks passwords: Superset's own accounts (db), or the organisation's LDAP directory
# (rempart_superset/identity/directory.py), whose groups decide the roles at every login. The
# pipeline's service account stays a local account either way.
REMPART_AUTH = _required("REMPART_AUTH")
# {directory group: [Superset roles]}, from seeds/departments.csv and Rempart's settings.
REMPART_DIRECTORY_ROLES = json.loads(_required("REMPART_DIRECTORY_ROLES"))
if REMPART_AUTH == "ldap":
    from flask_appbuilder.const import AUTH_LDAP
    from rempart_superset.identity.directory import DirectorySettings

    AUTH_TYPE = AUTH_LDAP
    REMPART_DIRECTORY = DirectorySettings(
        url=_required("REMPART_LDAP_URL"),
        bind_dn=_required("REMPART_LDAP_BIND_DN"),
        bind_password_file=_required("REMPART_LDAP_BIND_PASSWORD_FILE"),
        user_base=_required("REMPART_LDAP_USER_BASE"),
        group_base=_required("REMPART_LDAP_GROUP_BASE"),
        uid_attribute=_required("REMPART_LDAP_UID_ATTRIBUTE"),
        user_filter=_required("REMPART_LDAP_USER_FILTER"),
        group_filter=_required("REMPART_LDAP_GROUP_FILTER"),
        start_tls=os.environ.get("REMPART_LDAP_START_TLS", "").lower() == "true",
        ca_file=os.environ.get("REMPART_LDAP_CA_FILE", ""),
    )
    REMPART_DIRECTORY.check()
    AUTH_LDAP_SERVER = REMPART_DIRECTORY.url  # FAB wants it; Rempart's manager does the login
    _secret_file("REMPART_LDAP_BIND_PASSWORD_FILE", "the LDAP bind password")
elif REMPART_AUTH == "oidc":
    from flask_appbuilder.const import AUTH_OAUTH
    from rempart_superset.identity.directory import refuse_clear_text

    AUTH_TYPE = AUTH_OAUTH
    _ISSUER = _required("REMPART_OIDC_ISSUER").rstrip("/")
    refuse_clear_text(_ISSUER, "REMPART_OIDC_ISSUER", secure_schemes=("https",))
    OAUTH_PROVIDERS = [
        {
            "name": "rempart_sso",
            "icon": "fa-key",
            "token_key": "access_token",
            "remote_app": {
                "client_id": _required("REMPART_OIDC_CLIENT_ID"),
                "client_secret": _secret_file(
                    "REMPART_OIDC_CLIENT_SECRET_FILE", "the OpenID Connect client secret"
                )
                .read_text(encoding="utf-8")
                .strip(),
                "server_metadata_url": f"{_ISSUER}/.well-known/openid-configuration",
                "client_kwargs": {
                    "scope": _required("REMPART_OIDC_SCOPE"),
                    "code_challenge_method": "S256",
                },
            },
        }
    ]
    REMPART_OIDC = {
        "username_claim": _required("REMPART_OIDC_USERNAME_CLAIM"),
        "groups_claim": _required("REMPART_OIDC_GROUPS_CLAIM"),
    }
elif REMPART_AUTH != "db":
    raise RuntimeError(f"REMPART_AUTH must be db, ldap or oidc, not {REMPART_AUTH!r}")

# Per account, whatever the address (rempart_superset/identity/account_lockout.py); the numbers are
# Rempart's settings (REMPART_SUPERSET_LOCKOUT_*).
LOCKOUT_POLICY = LockoutPolicy(
    attempts=int(_required("REMPART_LOCKOUT_ATTEMPTS")),
    window_seconds=float(_required("REMPART_LOCKOUT_WINDOW_MINUTES")) * 60,
    duration_seconds=float(_required("REMPART_LOCKOUT_MINUTES")) * 60,
)


# What Superset's processes share (rempart_superset/caching/redis_state.py): Redis, at the URL that
# `rempart superset start` writes to a file of Superset's home.
REDIS_URL = redis_url(_required("REMPART_REDIS_URL_FILE"))

# Brute force across accounts, per address, counted in Redis: the same count for every
# gunicorn worker. Superset's own limit of every request per address stays on too.
RATELIMIT_ENABLED = True
RATELIMIT_STORAGE_URI = REDIS_URL
AUTH_RATE_LIMITED = True
AUTH_RATE_LIMIT = "5 per 40 second"
# Superset 6.1 attaches that limit to a login view that no longer receives the form, and the
# REST login never had it: put it on every endpoint that checks a password or a code. Only
# failed attempts count, so people and the sync logging in rightly are never held back.
LOGIN_ENDPOINTS = (
    {"ldap": "RempartAuthLDAPView", "oidc": "RempartAuthOAuthView"}.get(
        REMPART_AUTH, "RempartAuthDBView"
    )
    + ".login",
    "RempartSecurityApi.login",
    "rempart_mfa.verify",
    "rempart_mfa.enrol",
)


# The legacy chart endpoints: not served (routes.py says why).
def _refuse_retired_paths():
    from flask import jsonify
    from rempart_superset.routes import RETIRED_PREFIX, resolved_rule

    if (resolved_rule() or "").startswith(RETIRED_PREFIX):
        response = jsonify(message="this endpoint is not served by Rempart: use /api/v1/chart/data")
        response.status_code = 410
        return response
    return None


def FLASK_APP_MUTATOR(app):  # Superset's name for this hook
    from superset.charts.data.api import ChartDataRestApi
    from superset.extensions import db
    from superset.models.core import Log

    app.before_request(_refuse_retired_paths)
    app.teardown_request(EVENT_LOGGER.flush)  # a request's events, written as one
    with app.app_context():
        EVENT_LOGGER.write_action_log_with(ActionLogWriter(db.engine, Log.__table__))
    install_warehouse_pool()  # warehouse connections kept per role (warehouse_pool.py)
    watch_permission_changes(REDIS_URL)  # permission answers kept until they change
    install_query_contexts()  # imported charts answer GET /api/v1/chart/<id>/data/ too
    install_report_delivery()  # reports watermarked, checked and audited when sent
    install_screenshot_downloads(app, REDIS_URL)  # dashboard downloads, for their owner only
    install_export_marking(app)  # every file downloaded says whose it is
    install_page_templates(app)  # no chart image drawn in the browser, unmarked
    # Finished chart answers kept per role set and publication (chart_response_cache.py).
    install_answer_cache(ChartDataRestApi, REDIS_URL)
    security = app.appbuilder.sm
    if not isinstance(security, RempartSecurityManager):
        raise RuntimeError("Rempart's security manager is not installed: refusing to start")
    security.install_rempart_security(app)
    app.register_blueprint(mfa)
    refuse_unless_guarded(app)  # each guard's route is one of Superset's (routes.py)
    for endpoint in LOGIN_ENDPOINTS:
        view = app.view_functions.get(endpoint)
        if view is None:
            raise RuntimeError(f"login endpoint {endpoint} not found: cannot guard it")
        app.view_functions[endpoint] = security.limiter.limit(
            AUTH_RATE_LIMIT, methods=["POST"], deduct_when=failed_login
        )(view)


FEATURE_FLAGS = {
    "DASHBOARD_RBAC": True,  # dashboards are granted to roles one by one
    "ENABLE_TEMPLATE_PROCESSING": False,  # no Jinja in SQL: no per-user SQL tricks
    "ALERT_REPORTS": True,  # declared in superset/alerts_reports.yaml, synced by `rempart run`
    "ALERT_REPORT_WEBHOOK": True,  # HTTPS only (ALERT_REPORTS_WEBHOOK_HTTPS_ONLY)
    # The dashboard's PDF and PNG downloads taken on the server, where they are watermarked
    # (rempart_superset/exports/screenshot_downloads.py, export_marking.py); Superset serves that
    # endpoint only with THUMBNAILS on, whose list thumbnails Rempart does not serve.
    "THUMBNAILS": True,
    "ENABLE_DASHBOARD_SCREENSHOT_ENDPOINTS": True,
    "ENABLE_DASHBOARD_DOWNLOAD_WEBDRIVER_SCREENSHOT": True,
}
PREVENT_UNSAFE_DB_CONNECTIONS = True

# Nothing leaves the machine. The 6.1 front end always renders a Scarf tracking pixel (there is
# no server setting for it), and the stock CSP allows it, map tiles and web fonts: this CSP
# allows only our own origin, so the browser blocks all of them. The fonts Superset needs
# ship with it.
THEME_FONT_URL_ALLOWED_DOMAINS: list[str] = []
DATASET_IMPORT_ALLOWED_DATA_URLS: list[str] = []  # an imported dataset may not fetch a URL
TALISMAN_ENABLED = True
TALISMAN_CONFIG = {
    "content_security_policy": {
        "base-uri": ["'self'"],
        "default-src": ["'self'"],
        "img-src": ["'self'", "blob:", "data:"],
        "worker-src": ["'self'", "blob:"],
        "connect-src": ["'self'"],
        "object-src": "'none'",
        "frame-ancestors": ["'self'"],
        "form-action": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],  # the UI's CSS-in-JS needs inline styles
        "font-src": ["'self'", "data:"],
        "script-src": ["'self'", "'strict-dynamic'"],
    },
    "content_security_policy_nonce_in": ["script-src"],
    "force_https": False,
    "session_cookie_secure": SESSION_COOKIE_SECURE,
}

# SQL Lab: read-only everywhere (the warehouse connection also has DML off and its roles can
# only SELECT), no CREATE TABLE AS, no uploads, no file export to the server's disk.
SQL_MAX_ROW = 100_000
WTF_CSRF_ENABLED = True
# Caches in Redis, shared by every process. Query results depend on who runs them (each
# department connects as its own Postgres role), so the result and metadata caches are kept
# apart per warehouse role, and a publication of the marts starts a new generation of them.
globals().update(cache_configs(REDIS_URL))
STATS_LOGGER = RedisStatsLogger(REDIS_URL)  # figures for `rempart metrics`


class CeleryConfig:
    """Superset's background tasks: broker and results in the same Redis."""

    broker_url = REDIS_URL
    result_backend = REDIS_URL
    result_expires = 3600
    broker_connection_retry_on_startup = True
    imports = (
        "superset.sql_lab",
        "superset.tasks.scheduler",
        "superset.tasks.thumbnails",
        "superset.tasks.cache",
    )
    worker_prefetch_multiplier = 1
    task_acks_late = False
    beat_schedule = {  # noqa: RUF012 - Celery reads the class attribute
        "reports.scheduler": {
            "task": "reports.scheduler",
            "schedule": crontab(minute="*", hour="*"),
            "options": {"expires": 3600},
        },
        "reports.prune_log": {"task": "reports.prune_log", "schedule": crontab(minute=0, hour=0)},
        # Superset's own action log; what people saw is kept in Rempart's audit trail.
        "prune_logs": {
            "task": "prune_logs",
            "schedule": crontab(minute=30, hour=0),
            "kwargs": {"retention_period_days": 90, "max_rows_per_run": 10000},
        },
    }


CELERY_CONFIG = CeleryConfig


# -- Alerts & Reports ---------------------------------------------------------------------------
#
# Each report runs as the account that owns it, one per department (its viewer role: the
# report shows that department's rows only) or the data stewards' (superset/alerts_reports.yaml,
# synced by flows/superset/sync.py). Those accounts cannot log in; the browser that renders a
# report gets its session from Rempart's machine sessions
# (rempart_superset/identity/machine_sessions.py). What leaves is watermarked and recorded in
# the audit trail (rempart_superset/exports/report_delivery.py).
REMPART_REPORT_ACCOUNTS = tuple(json.loads(_required("REMPART_REPORT_ACCOUNTS")))
ALERT_REPORTS_EXECUTORS = [ExecutorType.OWNER]
MACHINE_AUTH_PROVIDER_CLASS = (
    "rempart_superset.identity.machine_sessions.RempartMachineAuthProvider"
)
REMPART_WATERMARK = _required("REMPART_WATERMARK")
# Who hears of a report that failed (its owners are report accounts, without a mailbox).
REMPART_REPORT_ERRORS_TO = os.environ.get("REMPART_REPORT_ERRORS_TO", "")

# Debian's Chromium and chromedriver through Selenium (Playwright would download a browser).
# Its sandbox cannot run as root: only then is it turned off.
WEBDRIVER_TYPE = "chrome"
WEBDRIVER_OPTION_ARGS = [
    "--headless=new",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    *(["--no-sandbox"] if os.geteuid() == 0 else []),
]
# Debian's chromedriver starts Debian's chromium; Superset's own `binary_location` key would
# reach Selenium's constructor, which refuses it.
WEBDRIVER_CONFIGURATION = {
    "options": {"capabilities": {}, "preferences": {}},
    "service": {
        "executable_path": _required("REMPART_CHROMEDRIVER"),
        "log_output": "/dev/null",
        "service_args": [],
        "port": 0,
        "env": {},
    },
}
WEBDRIVER_BASEURL = _required("REMPART_SUPERSET_URL").rstrip("/") + "/"
WEBDRIVER_BASEURL_USER_FRIENDLY = _required("REMPART_SUPERSET_PUBLIC_URL").rstrip("/") + "/"
SCREENSHOT_SELENIUM_HEADSTART = 1
# A cold browser on a busy two-core machine takes more than Superset's 10 s to show a page.
SCREENSHOT_LOCATE_WAIT = 60
SCREENSHOT_LOAD_WAIT = 120
SCREENSHOT_SELENIUM_ANIMATION_WAIT = 2

# Mail (REMPART_SMTP_*). No server configured: reports and alerts still run, and Superset logs
# what it would have sent (its dry run). A password is only ever sent over TLS.
SMTP_HOST = os.environ.get("REMPART_SMTP_HOST", "")
SMTP_PORT = int(os.environ.get("REMPART_SMTP_PORT") or 587)
SMTP_STARTTLS = os.environ.get("REMPART_SMTP_STARTTLS", "true") == "true"
SMTP_SSL = os.environ.get("REMPART_SMTP_SSL", "false") == "true"
SMTP_SSL_SERVER_AUTH = True  # the server's certificate is checked
SMTP_USER = os.environ.get("REMPART_SMTP_USER", "")
SMTP_PASSWORD = (
    _secret_file("REMPART_SMTP_PASSWORD_FILE", "the SMTP password")
    .read_text(encoding="utf-8")
    .strip()
    if SMTP_USER
    else ""
)
SMTP_MAIL_FROM = os.environ.get("REMPART_SMTP_MAIL_FROM") or "rempart@localhost"
ALERT_REPORTS_NOTIFICATION_DRY_RUN = not SMTP_HOST
EMAIL_REPORTS_SUBJECT_PREFIX = "[Rempart] "
SUPERSET_WEBSERVER_TIMEOUT = 120
# Nothing phones home: no external help links, no version check.
HELP_MENU_ITEMS: list[dict] = []


# -- Row-level access to the warehouse ---------------------------------------------------------
#
# Superset connects to the warehouse only, as the sync registered it: any other URI (another
# role, password file, database or host) is refused when registered or tested, and any other
# target (a SQL Lab catalog, engine parameters) when connecting.
#
# Each user reads the warehouse as the Postgres role of their department (the analysts' role
# for Admin and Analyst): rempart_superset/warehouse/warehouse_access.py. The passwords are in
# a pgpass file named by the connection URL, so the swap changes the user name only. Anything
# unexpected (no user, no department role, two of them) refuses the connection: fail closed.

DB_SQLA_URI_VALIDATOR = check_warehouse_uri


def DB_CONNECTION_MUTATOR(uri, params, username, security_manager, source):
    check_warehouse_connection(uri, params)  # the warehouse, as registered, or nothing
    user = security_manager.find_user(username=username) if username else None
    role = warehouse_role_of(user)  # refuses no user, or no single department
    if role != ALL_DEPARTMENTS_WAREHOUSE_ROLE:
        uri = uri.set(username=role, password=None)
    return uri, params


# -- Audit of consultations ---------------------------------------------------------------------
#
# Superset keeps its own log (the Action Log); every request that shows or exports data is
# also appended to Rempart's tamper-evident audit trail, audit.events, through the
# security-definer function audit.append_event, as the role `rempart_superset_audit` that may
# do nothing else: one row and one event per request (rempart_superset/audit/request_events.py).
# A failed audit write is logged loudly, never silently dropped. Logins are audited by
# rempart_superset/identity/login_attempts.py, with the factor and the reason of a failure.

EVENT_LOGGER = RequestEventLogger()
