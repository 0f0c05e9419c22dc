"""What Superset's processes share, in Redis: caches, rate-limit counters, Celery's queues,
and the figures `rempart metrics` serves.

Several gunicorn workers and the Celery worker each hold their own memory, so whatever must
be the same for all of them lives in the Redis server Rempart starts (or the external one it
is told of). Its URL, password included, is read from the file `REMPART_REDIS_URL_FILE`.

Caches never cross departments. Rempart swaps the PostgreSQL role per user when Superset
connects (warehouse/warehouse_access.py): two people sending the very same query read
different rows, and Superset's own cache keys do not see the swap. So every key of the
query-result and metadata caches is prefixed with the warehouse role the current user's
queries run as: a result cached for one department is found only by people of that
department, the analysts' (every department) only by analysts and administrators. A request
with no user, or with no single department, gets a prefix of its own, random: it never reads
nor feeds a shared entry.

The prefix also carries the publication generation, which `rempart run` increments after it
publishes the marts: from then on every request looks under the new generation, and what was
cached before is left to expire. A request reads the generation once, so a result computed
from the previous publication is never stored under the new generation.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import g
from flask_caching.backends.rediscache import RedisCache
from superset.stats_logger import BaseStatsLogger

from rempart_superset.warehouse.warehouse_access import NoWarehouseAccess, warehouse_role_of

logger = logging.getLogger(__name__)

KEY_ROOT = "rempart:superset"
GENERATION_KEY = f"{KEY_ROOT}:cache_generation"  # incremented at each publication
COUNTERS_KEY = f"{KEY_ROOT}:stats:counters"
TIMING_KEY_PREFIX = f"{KEY_ROOT}:stats:timing:"
# Upper bounds (milliseconds) of the latency histogram's buckets, as Prometheus reads them.
TIMING_BUCKETS_MS = (10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)


def redis_url(url_file: str) -> str:
    url = Path(url_file).read_text(encoding="utf-8").strip()
    if not url.startswith(("redis://", "rediss://")):
        raise RuntimeError(f"{url_file} holds no redis:// or rediss:// URL")
    return url


_clients: dict[str, Any] = {}


def client(url: str) -> Any:
    """One connection pool per process and URL (a forked worker makes its own)."""
    import redis

    if url not in _clients:
        _clients[url] = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    return _clients[url]


def once_per_request(name: str, read: Callable[[], Any]) -> Any:
    """`read()`, remembered for the rest of the request under `name` (read each time outside
    an application context, where there is nothing to remember it in)."""
    try:
        if name in g:
            return g.get(name)
    except RuntimeError:
        return read()
    value = read()
    setattr(g, name, value)
    return value


def request_generation(url: str) -> str:
    """The publication generation, read once per request."""
    return once_per_request(
        "_rempart_cache_generation",
        lambda: (client(url).get(GENERATION_KEY) or b"0").decode(),
    )


def department_prefix(url: str, name: str) -> Callable[[], str]:
    """The key prefix of a cache whose entries hold warehouse rows (see the module's doc)."""

    def prefix() -> str:
        try:
            role = warehouse_role_of(getattr(g, "user", None))
        except (NoWarehouseAccess, RuntimeError):
            return f"{KEY_ROOT}:{name}:unshared:{secrets.token_hex(16)}:"
        return f"{KEY_ROOT}:{name}:{request_generation(url)}:{role}:"

    return prefix


class DepartmentRedisCache(RedisCache):
    """Flask-Caching's Redis cache, with the department prefix applied to unlink too."""

    def unlink(self, *keys: str) -> Any:
        if not keys:
            return None
        prefix = self._get_prefix()
        return self._write_client.unlink(*[prefix + key for key in keys])


def cache_configs(url: str) -> dict[str, dict[str, Any]]:
    """Superset's caches, all in Redis; the two that can hold rows kept per department."""
    day = int(timedelta(days=1).total_seconds())
    by_department = f"{__name__}.DepartmentRedisCache"
    return {
        "CACHE_CONFIG": {
            "CACHE_TYPE": by_department,
            "CACHE_REDIS_URL": url,
            "CACHE_KEY_PREFIX": department_prefix(url, "metadata"),
            "CACHE_DEFAULT_TIMEOUT": day,
        },
        "DATA_CACHE_CONFIG": {
            "CACHE_TYPE": by_department,
            "CACHE_REDIS_URL": url,
            "CACHE_KEY_PREFIX": department_prefix(url, "data"),
            "CACHE_DEFAULT_TIMEOUT": day,
        },
        # Entries under random keys, each checked against its owner by Superset.
        "FILTER_STATE_CACHE_CONFIG": {
            "CACHE_TYPE": "RedisCache",
            "CACHE_REDIS_URL": url,
            "CACHE_KEY_PREFIX": f"{KEY_ROOT}:filter_state:",
            "CACHE_DEFAULT_TIMEOUT": int(timedelta(days=90).total_seconds()),
            "REFRESH_TIMEOUT_ON_RETRIEVAL": True,
        },
        # Dashboard downloads taken on the server, each given to its owner only
        # (exports/screenshot_downloads.py).
        "THUMBNAIL_CACHE_CONFIG": {
            "CACHE_TYPE": "RedisCache",
            "CACHE_REDIS_URL": url,
            "CACHE_KEY_PREFIX": f"{KEY_ROOT}:screenshots:",
            "CACHE_DEFAULT_TIMEOUT": int(timedelta(hours=1).total_seconds()),
        },
        "EXPLORE_FORM_DATA_CACHE_CONFIG": {
            "CACHE_TYPE": "RedisCache",
            "CACHE_REDIS_URL": url,
            "CACHE_KEY_PREFIX": f"{KEY_ROOT}:explore_form_data:",
            "CACHE_DEFAULT_TIMEOUT": int(timedelta(days=7).total_seconds()),
            "REFRESH_TIMEOUT_ON_RETRIEVAL": True,
        },
    }


class RedisStatsLogger(BaseStatsLogger):
    """Superset's STATS_LOGGER hook, counted in Redis for every process alike: counters
    (among them Superset's own `loaded_from_cache` and `loaded_from_source`, the chart-data
    cache's hits and misses) and a latency histogram per REST endpoint (`<Api>.<method>.time`,
    milliseconds).

    A request calls it a dozen times: the figures are added up in the process and written in
    one round trip every `FLUSH_SECONDS` by a thread of each process, off the request's path.
    What a process counted in its last second is lost if it is killed; a figure that cannot
    be written is logged, never fails a request."""

    FLUSH_SECONDS = 1.0

    def __init__(self, url: str) -> None:
        super().__init__(prefix="")
        self.url = url
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str], float] = {}
        self._gauges: dict[str, float] = {}
        self._flusher_pid: int | None = None

    def _add(self, key: str, field: str, amount: float) -> None:
        with self._lock:
            self._pending[(key, field)] = self._pending.get((key, field), 0) + amount
            if self._flusher_pid != os.getpid():  # first figure in this (maybe forked) process
                self._flusher_pid = os.getpid()
                threading.Thread(
                    target=self._flush_forever, name="rempart-stats", daemon=True
                ).start()

    def _flush_forever(self) -> None:
        while True:
            time.sleep(self.FLUSH_SECONDS)
            self.flush()

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
            gauges, self._gauges = self._gauges, {}
        if not pending and not gauges:
            return
        try:
            pipe = client(self.url).pipeline(transaction=False)
            for (key, field), amount in pending.items():
                if field == "sum_ms":
                    pipe.hincrbyfloat(key, field, amount)
                else:
                    pipe.hincrby(key, field, int(amount))
            for key, value in gauges.items():
                pipe.hset(f"{KEY_ROOT}:stats:gauges", key, value)
            pipe.execute()
        except Exception as error:  # a metric never fails Superset
            logger.warning("Rempart stats: %d figures not recorded: %s", len(pending), error)

    def incr(self, key: str) -> None:
        self._add(COUNTERS_KEY, key, 1)

    def decr(self, key: str) -> None:
        self._add(COUNTERS_KEY, key, -1)

    def gauge(self, key: str, value: float) -> None:
        with self._lock:
            self._gauges[key] = value

    def timing(self, key: str, value: float) -> None:
        bucket = next((f"le_{bound}" for bound in TIMING_BUCKETS_MS if value <= bound), "le_inf")
        self._add(TIMING_KEY_PREFIX + key, bucket, 1)
        self._add(TIMING_KEY_PREFIX + key, "count", 1)
        self._add(TIMING_KEY_PREFIX + key, "sum_ms", float(value))
