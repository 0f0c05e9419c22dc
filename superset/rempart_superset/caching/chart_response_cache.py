"""Finished chart-data answers, kept in Redis and given again to people who would get the
very same answer.

Superset's own cache keeps a query's data frame; every answer still re-reads, re-processes
and re-encodes it, which costs more than everything else a cached chart does. This keeps the
encoded answer itself. It sits inside Superset's chart-data endpoint, where the request has
already been authenticated (Rempart's session registry and second factor included) and
authorised for this datasource (`ChartDataCommand.validate`), and where the audit trail and
Superset's action log record the view as for any other answer: only the query and its
encoding are skipped.

An answer is found again only by a request with the same body, from a user with the same
Superset roles (which decide the row-level security filters) reading the warehouse as the
same PostgreSQL role (warehouse/warehouse_access.py), in the same publication generation
(redis_state.py). Forced refreshes, exports (CSV, Excel) and answers other than 200 are
never kept.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

from flask import Response, current_app, g, request

from rempart_superset.caching.redis_state import KEY_ROOT, client, request_generation
from rempart_superset.warehouse.warehouse_access import NoWarehouseAccess, warehouse_role_of

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 24 * 3600


def _key(url: str, command: Any) -> str | None:
    """Where this request's answer is kept, or None when it must not be."""
    query_context = getattr(command, "_query_context", None)
    body = request.get_json(silent=True) if request.is_json else None
    if query_context is None or not isinstance(body, dict) or body.get("force"):
        return None
    if query_context.force or str(query_context.result_format).lower() != "json":
        return None
    if str(query_context.result_type).lower() != "full":
        return None
    user = getattr(g, "user", None)
    try:
        warehouse_role = warehouse_role_of(user)
    except NoWarehouseAccess:
        return None
    roles = sorted(role.name for role in user.roles)
    fingerprint = hashlib.sha256(
        json.dumps([roles, body], sort_keys=True, default=str).encode()
    ).hexdigest()
    return f"{KEY_ROOT}:answers.gz:{request_generation(url)}:{warehouse_role}:{fingerprint}"


def _as_cached(body: bytes) -> bytes | None:
    """The answer as it will be given again, gzip-compressed once (a chart of ten thousand
    points is a megabyte of JSON, whose compression would otherwise be paid at every hit):
    each query marked as served from a cache."""
    try:
        payload = json.loads(body)
        for result in payload.get("result", []):
            result["is_cached"] = True
    except (ValueError, AttributeError, TypeError):
        return None
    return gzip.compress(json.dumps(payload, allow_nan=False).encode(), compresslevel=6)


def _kept_response(kept: bytes) -> Response:
    """A kept answer, sent compressed to a client that accepts gzip (browsers, HTTP clients)."""
    if request.accept_encodings["gzip"] <= 0:
        return Response(gzip.decompress(kept), status=200, mimetype="application/json")
    response = Response(kept, status=200, mimetype="application/json")
    response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Accept-Encoding"
    return response


def install(api_class: type, url: str) -> None:
    """Wrap the chart-data API's last step, after its checks: answers kept and given again."""
    original: Callable[..., Response] = api_class._get_data_response
    if getattr(original, "rempart_answer_cache", False):
        return  # installed already (the application was created twice in this process)

    def _get_data_response(self: Any, command: Any, *args: Any, **kwargs: Any) -> Response:
        if kwargs.get("force_cached") or (args and args[0]):
            return original(self, command, *args, **kwargs)
        key = _key(url, command)
        if key is None:
            return original(self, command, *args, **kwargs)
        stats = current_app.config["STATS_LOGGER"]
        try:
            kept = client(url).get(key)
        except Exception as error:  # Redis away: answer from the warehouse
            logger.warning("chart answers cache unavailable: %s", error)
            return original(self, command, *args, **kwargs)
        if kept is not None:
            stats.incr("loaded_from_cache")  # a hit of the chart cache, as metrics count them
            log_payload = kwargs.get("add_extra_log_payload")
            if log_payload:
                log_payload(is_cached=[True])
            return _kept_response(kept)
        response = original(self, command, *args, **kwargs)
        if response.status_code == 200 and response.mimetype == "application/json":
            marked = None if response.is_streamed else _as_cached(response.get_data())
            if marked is not None:
                try:
                    client(url).set(key, marked, ex=TIMEOUT_SECONDS)
                except Exception as error:
                    logger.warning("chart answer not kept: %s", error)
        return response

    _get_data_response.__doc__ = original.__doc__
    _get_data_response.rempart_answer_cache = True  # type: ignore[attr-defined]
    api_class._get_data_response = _get_data_response
