"""Superset's caches and figures in Redis, as the pipeline sees them.

Superset keeps query results per warehouse role and per publication generation
(superset/rempart_superset/caching/redis_state.py): after a publication of the marts, or a restore
that replaces them, `new_cache_generation` makes every later request look under a new
generation, so no chart answers from the previous publication. The key names are the ones
redis_state.py writes; Superset's environment cannot be imported here.
"""

from __future__ import annotations

from typing import Any

from flows.runtime.settings import Settings
from flows.runtime.valkey import EmbeddedRedis, client, redis_url

KEY_ROOT = "rempart:superset"
GENERATION_KEY = f"{KEY_ROOT}:cache_generation"
COUNTERS_KEY = f"{KEY_ROOT}:stats:counters"
TIMING_KEY_PREFIX = f"{KEY_ROOT}:stats:timing:"
TIMING_BUCKETS_MS = (10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)


def _client(settings: Settings) -> Any:
    return client(redis_url(settings))


def new_cache_generation(settings: Settings) -> str:
    """Retire every cached chart result; says what was done. The embedded server keeps
    nothing across a restart, so when it is stopped there is nothing to retire."""
    import valkey  # the client: loaded when a server is reached

    if not settings.redis.url and not EmbeddedRedis(settings).status().running:
        return "Superset's caches: none (Redis is stopped)"
    try:
        generation = _client(settings).incr(GENERATION_KEY)
    except valkey.ValkeyError as error:
        raise CacheInvalidationError(
            f"the marts are published, but Superset's cached results could not be retired "
            f"({error}): charts may show the previous publication until their cache expires; "
            "`rempart superset stop` then `start` clears them"
        ) from error
    return f"Superset's caches: generation {generation}, earlier results retired"


class CacheInvalidationError(RuntimeError):
    """Cached results could not be retired; the message says what that means."""


def superset_figures(settings: Settings) -> tuple[dict[str, int], dict[str, dict[str, float]]]:
    """Superset's counters and per-endpoint latency histograms (milliseconds), as its
    processes recorded them; empty when Redis does not answer."""
    import valkey  # the client: loaded when a server is reached

    try:
        redis = _client(settings)
        counters = {key.decode(): int(value) for key, value in redis.hgetall(COUNTERS_KEY).items()}
        timings = {}
        for key in redis.scan_iter(match=f"{TIMING_KEY_PREFIX}*", count=500):
            name = key.decode()[len(TIMING_KEY_PREFIX) :]
            timings[name] = {
                field.decode(): float(value) for field, value in redis.hgetall(key).items()
            }
    except valkey.ValkeyError:
        return {}, {}
    return counters, timings
