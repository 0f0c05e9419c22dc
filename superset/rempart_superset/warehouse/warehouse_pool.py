"""Warehouse connections kept open, one pool per PostgreSQL role, instead of one per query.

Superset builds a new SQLAlchemy engine for every query it sends to a database, with a pool
that keeps nothing: each chart opens a PostgreSQL connection, authenticates, lets the dialect
ask the server its version and types, runs one SELECT and closes it, which costs more than
the chart's own query on the marts. Superset makes that engine from the URL its
DB_CONNECTION_MUTATOR returns, whose user name is the reader's warehouse role
(warehouse_access.py). This module gives back, for the same URL and engine arguments, the same
engine with a pool that keeps its connections: a connection logged in as one department's
role only ever serves that role's queries, so row-level security holds as before.

A connection goes back to its pool rolled back and with its session reset (DISCARD ALL), so
nothing one query set (a setting, a temporary table) reaches the next. Connections are
checked before use (a restarted server is noticed) and replaced after POOL_RECYCLE_SECONDS,
so a revoked login or a rotated password takes effect within that time.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.pool import NullPool, QueuePool

logger = logging.getLogger(__name__)

POOL_SIZE = 2  # per role and process: the connections kept between requests
POOL_OVERFLOW = 6  # opened for a burst (a dashboard's charts at once), closed after it
POOL_RECYCLE_SECONDS = 300

_engines: dict[str, Any] = {}
_lock = threading.Lock()


def _reset_session(dbapi_connection: Any, _record: Any) -> None:
    """On the way back to the pool (after SQLAlchemy's rollback): forget the session's state."""
    autocommit = dbapi_connection.autocommit
    try:
        dbapi_connection.autocommit = True  # DISCARD ALL cannot run in a transaction
        with dbapi_connection.cursor() as cursor:
            cursor.execute("DISCARD ALL")
    finally:
        dbapi_connection.autocommit = autocommit


def _engine_key(url: Any, kwargs: dict[str, Any]) -> str:
    """Equal for the same process, server, database, user and engine arguments."""
    arguments = {name: value for name, value in kwargs.items() if name != "poolclass"}
    return json.dumps(
        [os.getpid(), url.render_as_string(hide_password=False), arguments],
        sort_keys=True,
        default=repr,
    )


def pooled(create_engine: Callable[..., Any]) -> Callable[..., Any]:
    """`create_engine` that hands out one pooled engine per PostgreSQL URL and arguments;
    anything else (another backend, a pool Superset chose itself) is created as asked."""

    def create_pooled_engine(url: Any, **kwargs: Any) -> Any:
        if kwargs.get("poolclass") is not NullPool or not url.drivername.startswith("postgresql"):
            return create_engine(url, **kwargs)
        key = _engine_key(url, kwargs)
        engine = _engines.get(key)
        if engine is not None:
            return engine
        with _lock:
            engine = _engines.get(key)
            if engine is None:
                arguments = {name: value for name, value in kwargs.items() if name != "poolclass"}
                engine = create_engine(
                    url,
                    poolclass=QueuePool,
                    pool_size=POOL_SIZE,
                    max_overflow=POOL_OVERFLOW,
                    pool_pre_ping=True,
                    pool_recycle=POOL_RECYCLE_SECONDS,
                    **arguments,
                )
                event.listen(engine, "checkin", _reset_session)
                _engines[key] = engine
                logger.info("warehouse pool opened for %s", url.username)
        return engine

    create_pooled_engine.rempart_pooled = True  # type: ignore[attr-defined]
    return create_pooled_engine


def install() -> None:
    """Superset's database model builds its engines through the pooled factory."""
    from superset.models import core

    if not getattr(core.create_engine, "rempart_pooled", False):
        core.create_engine = pooled(core.create_engine)
