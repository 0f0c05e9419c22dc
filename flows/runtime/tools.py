"""The environment handed to dbt and the other tools Rempart runs."""

from __future__ import annotations

import sys
from pathlib import Path

from flows.names import TRANSFORMER_ROLE
from flows.runtime.database import role_connection
from flows.runtime.settings import Settings


def tool_environment(settings: Settings) -> dict[str, str]:
    """Environment for dbt and other tools, as the transformer role; never a password."""
    connection = role_connection(settings, TRANSFORMER_ROLE)
    env = {
        **connection.libpq_env(),
        "REMPART_DB_HOST": connection.host,
        "REMPART_DB_PORT": str(connection.port),
        "REMPART_DB_USER": connection.user,
        "REMPART_DB_NAME": connection.dbname,
        "REMPART_DB_SSLMODE": connection.options.get(
            "sslmode", "disable" if connection.host.startswith("/") else "prefer"
        ),
        "DBT_PROFILES_DIR": str(settings.project_dir / "dbt_project"),
        "DBT_PROJECT_DIR": str(settings.project_dir),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
        # Timestamps without a zone in source files are read as UTC, whatever the server says.
        "PGOPTIONS": "-c timezone=UTC",
    }
    return env


def venv_binary(name: str) -> str:
    """A tool installed beside this Python (dbt), else whatever PATH finds."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name
