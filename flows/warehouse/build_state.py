"""Whether a run has anything to build: a run costs what changed.

A build is needed when a file landed after the newest landing the last published build could
see, when the dbt project (models, macros, seeds, snapshots, tests, its configuration, the
dbt version) or the dashboards as code (`superset/assets/`, which the run syncs) differ from
what that build ran, or when the latest build failed or was not
published. Otherwise `rempart run` says so and builds nothing (`--force` rebuilds anyway).
"""

from __future__ import annotations

import hashlib
from importlib.metadata import version
from pathlib import Path

import psycopg
from psycopg import sql

from flows.names import TRANSFORMER_ROLE
from flows.runtime.database import role_connection
from flows.runtime.settings import Settings
from flows.warehouse.publish import BUILDS

# What a run's build and sync depend on besides the landed data.
PROJECT_FOLDERS = ("models", "macros", "seeds", "dbt_project", "superset/assets")
PROJECT_FILES = ("dbt_project.yml",)
BUILD_RUNS = sql.Identifier("intermediate", "dbt_build_runs")


def project_fingerprint(settings: Settings) -> str:
    """A hash of every file dbt reads from the project, of the dashboards' assets, and of
    dbt's version."""
    root = settings.project_dir
    digest = hashlib.sha256(f"dbt-core {version('dbt-core')}\n".encode())
    paths: list[Path] = [root / name for name in PROJECT_FILES]
    for folder in PROJECT_FOLDERS:
        paths.extend(path for path in (root / folder).rglob("*") if path.is_file())
    for path in sorted(paths):
        relative = path.relative_to(root).as_posix()
        if "/__pycache__/" in f"/{relative}":
            continue
        digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _exists(conn: psycopg.Connection, schema: str, table: str) -> bool:
    return bool(
        conn.execute(
            "select 1 from pg_tables where schemaname = %s and tablename = %s", (schema, table)
        ).fetchone()
    )


def up_to_date(settings: Settings, fingerprint: str | None = None) -> str | None:
    """Why nothing needs building, or None when a build is needed."""
    fingerprint = fingerprint or project_fingerprint(settings)
    with role_connection(settings, TRANSFORMER_ROLE).connect(
        application_name="rempart-run"
    ) as conn:
        if not (
            _exists(conn, "marts", "pipeline_builds")
            and _exists(conn, "intermediate", "dbt_build_runs")
        ):
            return None
        latest = conn.execute(
            sql.SQL(
                "select builds.published, builds.project_hash, "
                "runs.tested_through, builds.finished_at "
                "from {} as builds left join {} as runs on runs.invocation_id = builds.build_id "
                "order by builds.finished_at desc limit 1"
            ).format(BUILDS, BUILD_RUNS)
        ).fetchone()
        if latest is None:
            return None
        published, project_hash, tested_through, finished_at = latest
        if not published or project_hash != fingerprint or tested_through is None:
            return None
        newest = conn.execute(
            "select max(landed_at) from raw.files where status = 'landed'"
        ).fetchone()
        if newest and newest[0] is not None and newest[0] > tested_through:
            return None
    return (
        f"nothing new: no file landed and the project is unchanged since the build published "
        f"at {finished_at:%Y-%m-%d %H:%M:%S %Z}; nothing rebuilt (--force rebuilds)"
    )


def project_unchanged(settings: Settings, fingerprint: str) -> bool:
    """Whether the last published build ran this very project: then only what the landed
    data reaches (`source:raw+`) needs building, and every other node stands as it passed."""
    with role_connection(settings, TRANSFORMER_ROLE).connect(
        application_name="rempart-run"
    ) as conn:
        if not _exists(conn, "marts", "pipeline_builds"):
            return False
        row = conn.execute(
            sql.SQL(
                "select project_hash from {} where published order by finished_at desc limit 1"
            ).format(BUILDS)
        ).fetchone()
    return row is not None and row[0] == fingerprint
