"""Answers to "do these roles have this permission?", kept in each process until permissions
change.

Flask-AppBuilder asks the metadata database each time a request checks a permission: a
chart's data checks the endpoint's permission, whether it is public, and access to all
datasources, all databases, its database, catalog, schema and datasource; one query each,
which together cost more than the answer of a cached chart. The answers depend only on the
roles' permissions and on the datasets and databases they name, which change rarely and
through Superset's models (the role editor, `superset init`, the sync, dataset edits).

Any flush of the metadata session that writes a role, a permission, a view, their links, a
dataset or a database increments a version kept in Redis, shared by every process; a request
reads it once, and an answer is used again only under the version it was found in, and for
MEMO_SECONDS at most, so a change made by other means (SQL on the metadata database) takes
effect too. Without Redis nothing is kept: every check asks the database, as Superset does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable
from itertools import chain
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from rempart_superset.caching.redis_state import KEY_ROOT, client, once_per_request

logger = logging.getLogger(__name__)

VERSION_KEY = f"{KEY_ROOT}:permissions_version"
MEMO_SECONDS = 60
MEMO_ENTRIES = 20_000
# The models whose changes can change an answer (by class name: FAB and Superset define them).
WATCHED_MODELS = {"Role", "Permission", "ViewMenu", "PermissionView", "SqlaTable", "Database"}

_answers: dict[Hashable, tuple[bool, float]] = {}
_watching = False
_CHANGED = "rempart_permissions_changed"


def permissions_version(url: str) -> str | None:
    """The version of every role's permissions, read once per request; None without Redis."""

    def read() -> str | None:
        try:
            return (client(url).get(VERSION_KEY) or b"0").decode()
        except Exception as error:
            logger.warning("permission answers not kept (Redis unavailable): %s", error)
            return None

    return once_per_request("_rempart_permissions_version", read)


def remembered(url: str, question: Hashable, ask: Callable[[], bool]) -> bool:
    """The answer to `question`, from this process's memory when it may be, else `ask()`."""
    version = permissions_version(url)
    if version is None:
        return ask()
    key = (version, question)
    now = time.monotonic()
    kept = _answers.get(key)
    if kept is not None and now - kept[1] < MEMO_SECONDS:
        return kept[0]
    answer = bool(ask())
    if len(_answers) >= MEMO_ENTRIES:
        _answers.clear()
    _answers[key] = (answer, now)
    return answer


def watch_permission_changes(url: str) -> None:
    """After a commit that wrote a watched model, increment the version (installed once).

    After the commit, not at the flush: a request that reads the new version then finds the
    new permissions in the database, never the old ones to keep under the new version."""
    global _watching
    if _watching:
        return
    _watching = True

    @event.listens_for(Session, "after_flush")
    def note_changes(session: Session, _context: Any) -> None:
        changed = chain(session.new, session.dirty, session.deleted)
        if any(type(item).__name__ in WATCHED_MODELS for item in changed):
            session.info[_CHANGED] = True

    @event.listens_for(Session, "after_commit")
    def new_version(session: Session) -> None:
        if not session.info.pop(_CHANGED, False):
            return
        try:
            client(url).incr(VERSION_KEY)
        except Exception:
            # Other processes keep their answers for MEMO_SECONDS at most; this one forgets.
            _answers.clear()
            logger.exception("permissions changed but Redis could not be told")
