"""Write-audit-publish: readers see only what the last build that passed everything wrote.

dbt builds and tests the marts in `marts_pending`, which only the transformer (dbt) and the
analyst can read. When a complete `dbt build` passed every model and test, `publish` copies
what changed into the tables of `marts`, which Superset and the reader roles read, in one
transaction: readers see the previous publication until the commit, then the new one whole,
every mart consistent with the others. A build that fails publishes nothing; its rows wait in
`marts_pending` for inspection, and the next passing build publishes everything since.

Why this design on PostgreSQL (rather than swapping schemas or filtering views by a
watermark): the published tables keep their identity (OID) from one publication to the next,
so their row-level security policies, grants, indexes and Superset's datasets stay attached,
and a reader's query in flight is never cut off by a dropped table; and the cost follows what
changed. An incremental mart stamps every row it writes with the start of the build that
wrote it (`_built_at`, indexed); publishing it replaces, by its unique key, only the rows
stamped after the newest stamp it published last time. A table mart is small (dimensions,
per-source figures) and is copied whole. A mart whose pending table was recreated (a full
refresh), or whose published table lacks a column or an index of it, is published afresh.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from flows.names import MARTS_SCHEMA, PENDING_MARTS_SCHEMA, READER_GROUP, TRANSFORMER_ROLE
from flows.runtime.database import role_connection
from flows.runtime.settings import Settings

PENDING_SCHEMA = PENDING_MARTS_SCHEMA
PUBLISHED_SCHEMA = MARTS_SCHEMA
STAMP_COLUMN = "_built_at"
# The log of publications lives beside dbt's log of builds, where readers never look.
PUBLICATIONS = sql.Identifier("intermediate", "rempart_publications")
PUBLISH_LOCK = 7_265_004
# Every build's outcome, for the data-quality dashboard: which tests held what back; and the
# contracted mart that dbt builds from it, which the dashboards read.
BUILDS = sql.Identifier(PUBLISHED_SCHEMA, "pipeline_builds")
BUILDS_MART = "fct_pipeline_builds"
BUILDS_COLUMNS = ("build_id", "finished_at", "passed", "published", "failures", "project_hash")


@dataclass(frozen=True)
class Mart:
    """A model of the marts folder, as the manifest of the build describes it."""

    name: str
    incremental: bool
    unique_key: tuple[str, ...]


@dataclass
class PublishReport:
    build_id: str
    marts: dict[str, dict[str, object]] = field(default_factory=dict)

    def summary(self) -> str:
        rows = sum(int(m["rows_written"]) for m in self.marts.values())  # type: ignore[call-overload]
        afresh = sorted(name for name, m in self.marts.items() if m["mode"] == "afresh")
        text = f"{len(self.marts)} marts published, {rows:,} rows written"
        if afresh and len(afresh) == len(self.marts):
            return text + " (all afresh)"
        return text + (f" ({', '.join(afresh)} afresh)" if afresh else "")


def marts_of(manifest: dict[str, Any]) -> list[Mart]:
    marts = []
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or node["schema"] != PENDING_SCHEMA:
            continue
        config = node["config"]
        key = config.get("unique_key") or ()
        marts.append(
            Mart(
                name=node["alias"] or node["name"],
                incremental=config.get("materialized") == "incremental",
                unique_key=(key,) if isinstance(key, str) else tuple(key),
            )
        )
    return sorted(marts, key=lambda mart: mart.name)


def load_manifest(settings: Settings) -> dict[str, Any]:
    path = Path(settings.dbt_target_dir) / "manifest.json"
    return json.loads(path.read_text(encoding="utf-8"))


def _columns(conn: psycopg.Connection, oid: int) -> list[tuple[str, str]]:
    return [
        (name, kind)
        for name, kind in conn.execute(
            "select attname, format_type(atttypid, atttypmod) from pg_attribute "
            "where attrelid = %s and attnum > 0 and not attisdropped order by attnum",
            (oid,),
        ).fetchall()
    ]


def _indexes(conn: psycopg.Connection, oid: int) -> set[str]:
    """Each index as its method and columns (its name and table left out), unique or not."""
    return {
        definition
        for (definition,) in conn.execute(
            "select case when indisunique then 'unique ' else '' end "
            "|| regexp_replace(pg_get_indexdef(indexrelid), '^.* USING ', '') "
            "from pg_index where indrelid = %s",
            (oid,),
        ).fetchall()
    }


def _oid(conn: psycopg.Connection, schema: str, table: str) -> int | None:
    row = conn.execute(
        "select c.oid from pg_class as c join pg_namespace as n on n.oid = c.relnamespace "
        "where n.nspname = %s and c.relname = %s and c.relkind in ('r', 'p')",
        (schema, table),
    ).fetchone()
    return int(row[0]) if row else None


def _ensure_log(conn: psycopg.Connection) -> None:
    conn.execute(
        sql.SQL(
            "create table if not exists {} ("
            " build_id text primary key,"
            " published_at timestamptz not null default clock_timestamp(),"
            " marts jsonb not null)"
        ).format(PUBLICATIONS)
    )


def _prepare_schema(conn: psycopg.Connection) -> None:
    conn.execute("select pg_advisory_xact_lock(%s)", (PUBLISH_LOCK,))
    conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(PUBLISHED_SCHEMA)))
    conn.execute(
        sql.SQL("grant usage on schema {} to {}").format(
            sql.Identifier(PUBLISHED_SCHEMA), sql.Identifier(READER_GROUP)
        )
    )
    _ensure_log(conn)
    conn.execute(
        sql.SQL(
            "create table if not exists {} ("
            " build_id text primary key,"
            " finished_at timestamptz not null default clock_timestamp(),"
            " passed boolean not null,"
            " published boolean not null,"
            " failures text[] not null default '{{}}')"
        ).format(BUILDS)
    )
    conn.execute(
        sql.SQL("alter table {} add column if not exists project_hash text").format(BUILDS)
    )
    conn.execute(sql.SQL("grant select on {} to {}").format(BUILDS, sql.Identifier(READER_GROUP)))


def _insert_build(
    conn: psycopg.Connection,
    build_id: str,
    failures: list[str],
    published: bool,
    project_hash: str | None,
) -> None:
    conn.execute(
        sql.SQL(
            "insert into {} (build_id, passed, published, failures, project_hash) "
            "values (%s, %s, %s, %s, %s) "
            "on conflict (build_id) do update set passed = excluded.passed, "
            "published = excluded.published, failures = excluded.failures, "
            "project_hash = excluded.project_hash"
        ).format(BUILDS),
        (build_id, not failures, published, failures, project_hash),
    )
    # The contracted mart the dashboards read (models/marts/quality/fct_pipeline_builds.sql)
    # is dbt's copy of this log as the build began: refreshed here, in the same transaction,
    # it shows this build too, and a failed build, which publishes nothing else.
    if _oid(conn, PUBLISHED_SCHEMA, BUILDS_MART) is not None:
        columns = sql.SQL(", ").join(map(sql.Identifier, BUILDS_COLUMNS))
        mart = sql.Identifier(PUBLISHED_SCHEMA, BUILDS_MART)
        conn.execute(sql.SQL("delete from {}").format(mart))
        conn.execute(
            sql.SQL("insert into {mart} ({columns}) select {columns} from {log}").format(
                mart=mart, columns=columns, log=BUILDS
            )
        )


@contextlib.contextmanager
def _publishing(settings: Settings) -> Iterator[psycopg.Connection]:
    """The transformer's transaction, under the publication lock, the schemas ready."""
    with (
        role_connection(settings, TRANSFORMER_ROLE).connect(
            application_name="rempart-publish"
        ) as conn,
        conn.transaction(),
    ):
        _prepare_schema(conn)
        yield conn


def record_build(
    settings: Settings,
    build_id: str,
    failures: list[str],
    published: bool = False,
    project_hash: str | None = None,
) -> None:
    """Log a build that publishes nothing (it failed, or was narrowed), with its failures."""
    with _publishing(settings) as conn:
        _insert_build(conn, build_id, failures, published, project_hash)


def _last_publication(conn: psycopg.Connection) -> dict[str, Any]:
    row = conn.execute(
        sql.SQL("select marts from {} order by published_at desc limit 1").format(PUBLICATIONS)
    ).fetchone()
    return row[0] if row else {}


def _copy_security(conn: psycopg.Connection, pending_oid: int, target: sql.Composable) -> None:
    """The published table gets the pending table's row-level security, as dbt declared it."""
    enabled = conn.execute(
        "select relrowsecurity from pg_class where oid = %s", (pending_oid,)
    ).fetchone()
    if enabled and enabled[0]:
        conn.execute(sql.SQL("alter table {} enable row level security").format(target))
    policies = conn.execute(
        "select polname, polpermissive, polcmd, "
        "array(select rolname from pg_roles where oid = any(polroles) order by rolname), "
        "pg_get_expr(polqual, polrelid), pg_get_expr(polwithcheck, polrelid) "
        "from pg_policy where polrelid = %s",
        (pending_oid,),
    ).fetchall()
    commands = {"r": "select", "a": "insert", "w": "update", "d": "delete", "*": "all"}
    for name, permissive, command, roles, using, check in policies:
        statement = sql.SQL("create policy {} on {} as {} for {} to {}").format(
            sql.Identifier(name),
            target,
            sql.SQL("permissive" if permissive else "restrictive"),
            sql.SQL(commands[command]),
            sql.SQL(", ").join(sql.Identifier(r) for r in roles) if roles else sql.SQL("public"),
        )
        if using:
            statement += sql.SQL(" using ({})").format(sql.SQL(using))
        if check:
            statement += sql.SQL(" with check ({})").format(sql.SQL(check))
        conn.execute(sql.SQL("drop policy if exists {} on {}").format(sql.Identifier(name), target))
        conn.execute(statement)


def _policies(conn: psycopg.Connection, oid: int) -> set[tuple[object, ...]]:
    return {
        tuple(row)
        for row in conn.execute(
            "select polname, polpermissive, polcmd, polroles::text, "
            "pg_get_expr(polqual, polrelid), pg_get_expr(polwithcheck, polrelid), "
            "(select relrowsecurity from pg_class where oid = polrelid) "
            "from pg_policy where polrelid = %s",
            (oid,),
        ).fetchall()
    }


def _publish_afresh(
    conn: psycopg.Connection, mart: Mart, pending: sql.Composable, pending_oid: int
) -> int:
    """Recreate the published table from the pending one: columns, indexes, security, rows."""
    target = sql.Identifier(PUBLISHED_SCHEMA, mart.name)
    conn.execute(sql.SQL("drop table if exists {}").format(target))
    conn.execute(sql.SQL("create table {} (like {} including all)").format(target, pending))
    _copy_security(conn, pending_oid, target)
    conn.execute(sql.SQL("grant select on {} to {}").format(target, sql.Identifier(READER_GROUP)))
    return conn.execute(sql.SQL("insert into {} select * from {}").format(target, pending)).rowcount


def _publish_changes(
    conn: psycopg.Connection, mart: Mart, pending: sql.Composable, since: str
) -> int:
    """Replace, by unique key, the published rows that builds rewrote after stamp `since`."""
    target = sql.Identifier(PUBLISHED_SCHEMA, mart.name)
    stamp = sql.Identifier(STAMP_COLUMN)
    conn.execute(
        sql.SQL(
            "create temporary table publish_delta on commit drop as "
            "select * from {} where {} > %s::timestamptz"
        ).format(pending, stamp),
        (since,),
    )
    key_match = sql.SQL(" and ").join(
        sql.SQL("published.{0} = delta.{0}").format(sql.Identifier(column))
        for column in mart.unique_key
    )
    conn.execute(
        sql.SQL("delete from {} as published using publish_delta as delta where {}").format(
            target, key_match
        )
    )
    written = conn.execute(
        sql.SQL("insert into {} select * from publish_delta").format(target)
    ).rowcount
    conn.execute("drop table publish_delta")
    return written


def _sync_comments(conn: psycopg.Connection, pending_oid: int, target: sql.Composable) -> None:
    """Descriptions from dbt's YAML (persisted on the pending table) follow to the published."""
    rows = conn.execute(
        "select objsubid, description, "
        "(select attname from pg_attribute where attrelid = objoid and attnum = objsubid) "
        "from pg_description where objoid = %s and classoid = 'pg_class'::regclass",
        (pending_oid,),
    ).fetchall()
    for subid, description, column in rows:
        if subid == 0:
            conn.execute(
                sql.SQL("comment on table {} is {}").format(target, sql.Literal(description))
            )
        elif column:
            conn.execute(
                sql.SQL("comment on column {}.{} is {}").format(
                    target, sql.Identifier(column), sql.Literal(description)
                )
            )


def publish(
    settings: Settings,
    build_id: str,
    manifest: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
    project_hash: str | None = None,
    vouch_for_build: bool = False,
) -> PublishReport:
    """Publish every mart of the passing build `build_id` (its dbt invocation id).

    `vouch_for_build`: the build covered only what new data reaches, the project being the
    one the last published build ran; the nodes it left out stand as they passed then, so it
    counts as complete: it is marked passed in dbt's build log, and the next builds test only
    the rows landed after it (macros/builds/tested_through.sql)."""
    marts = marts_of(manifest or load_manifest(settings))
    report = PublishReport(build_id)
    with _publishing(settings) as conn:
        previous = _last_publication(conn)
        for mart in marts:
            report.marts[mart.name] = _publish_mart(conn, mart, previous.get(mart.name, {}))
            if progress:
                details = report.marts[mart.name]
                progress(
                    f"published {mart.name}: {details['mode']}, "
                    f"{details['rows_written']:,} rows written"
                )
        _drop_retired(conn, previous, {mart.name for mart in marts})
        conn.execute(
            sql.SQL("insert into {} (build_id, marts) values (%s, %s)").format(PUBLICATIONS),
            (build_id, json.dumps(report.marts)),
        )
        _insert_build(conn, build_id, [], True, project_hash)
        if vouch_for_build:
            conn.execute(
                "update intermediate.dbt_build_runs set passed = true where invocation_id = %s",
                (build_id,),
            )
    return report


def _publish_mart(
    conn: psycopg.Connection, mart: Mart, previous: dict[str, Any]
) -> dict[str, object]:
    pending = sql.Identifier(PENDING_SCHEMA, mart.name)
    target = sql.Identifier(PUBLISHED_SCHEMA, mart.name)
    pending_oid = _oid(conn, PENDING_SCHEMA, mart.name)
    if pending_oid is None:
        raise RuntimeError(f"{PENDING_SCHEMA}.{mart.name} does not exist: was the build complete?")
    published_oid = _oid(conn, PUBLISHED_SCHEMA, mart.name)
    same_shape = published_oid is not None and (
        _columns(conn, pending_oid) == _columns(conn, published_oid)
        and _indexes(conn, pending_oid) <= _indexes(conn, published_oid)
    )
    same_table = previous.get("pending_oid") == pending_oid
    stamped = any(name == STAMP_COLUMN for name, _ in _columns(conn, pending_oid))
    since = previous.get("published_through")
    if not same_shape:
        mode, written = "afresh", _publish_afresh(conn, mart, pending, pending_oid)
    elif mart.incremental and mart.unique_key and stamped and same_table and since:
        mode, written = "changes", _publish_changes(conn, mart, pending, since)
    else:
        conn.execute(sql.SQL("delete from {}").format(target))
        written = conn.execute(
            sql.SQL("insert into {} select * from {}").format(target, pending)
        ).rowcount
        mode = "whole"
    security_changed = same_shape and published_oid is not None
    if security_changed and _policies(conn, pending_oid) != _policies(conn, published_oid):
        _copy_security(conn, pending_oid, target)
    _sync_comments(conn, pending_oid, target)
    published_through = None
    if stamped:
        row = conn.execute(
            sql.SQL("select max({})::text from {}").format(sql.Identifier(STAMP_COLUMN), pending)
        ).fetchone()
        published_through = row[0] if row else None
    return {
        "mode": mode,
        "rows_written": written,
        "pending_oid": pending_oid,
        "published_through": published_through,
    }


def _drop_retired(
    conn: psycopg.Connection, previous: dict[str, Any], current: Iterable[str]
) -> None:
    """A mart removed from the project leaves the published schema with its next publication."""
    for name in sorted(set(previous) - set(current)):
        conn.execute(
            sql.SQL("drop table if exists {}").format(sql.Identifier(PUBLISHED_SCHEMA, name))
        )
