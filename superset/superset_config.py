"""Rempart's Superset settings (draft), loaded through SUPERSET_CONFIG_PATH.

Superset runs in its own environment (.venv-superset, SQLAlchemy 1.4), so this file imports
nothing from the project: every value it needs comes from the environment.
"""

import os
from datetime import timedelta
from pathlib import Path

# A missing key must stop Superset: its fallback is a public constant, and the key also
# encrypts the stored database passwords.
SECRET_KEY = os.environ.get("SUPERSET_SECRET_KEY", "")
if not SECRET_KEY:
    raise RuntimeError("SUPERSET_SECRET_KEY is not set: refusing to start Superset without it")

# Same default as Rempart's own settings: `.rempart/` at the project root.
_STATE_DIR = Path(
    os.environ.get("REMPART_STATE_DIR") or Path(__file__).resolve().parent.parent / ".rempart"
).resolve()
DATA_DIR = str(_STATE_DIR / "superset")  # else Superset writes to ~/.superset
SQLALCHEMY_DATABASE_URI = os.environ.get(
    "SUPERSET_METADATA_URI", f"sqlite:///{DATA_DIR}/superset.db?check_same_thread=false"
)
# Never the metadata URI: Superset may register it as a queryable "examples" database.
SQLALCHEMY_EXAMPLES_URI = f"sqlite:///{DATA_DIR}/examples.db?check_same_thread=false"
FILENAME = f"{DATA_DIR}/superset.log"

# Accounts are created by the operator only; nobody sees anything without logging in.
AUTH_USER_REGISTRATION = False
PUBLIC_ROLE_LIKE = None

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Served on 127.0.0.1 over plain HTTP by default; set to true behind TLS.
SESSION_COOKIE_SECURE = os.environ.get("SUPERSET_COOKIE_SECURE", "false").lower() in {
    "1",
    "true",
    "yes",
}
PERMANENT_SESSION_LIFETIME = timedelta(hours=8)

# Brute force on the login form and the login API; one gunicorn worker, so memory suffices.
RATELIMIT_ENABLED = True
RATELIMIT_STORAGE_URI = "memory://"
AUTH_RATE_LIMITED = True
AUTH_RATE_LIMIT = "5 per 40 second"

FEATURE_FLAGS = {
    "DASHBOARD_RBAC": True,  # dashboards are granted to roles one by one
    "ENABLE_TEMPLATE_PROCESSING": False,  # no Jinja in SQL: no per-user SQL tricks
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
