"""The pipeline reads what Superset's processes write in Redis (flows/superset/answer_cache.py and
superset/rempart_superset/caching/redis_state.py live in two environments that cannot import
each other): the key names and the latency buckets must be the same on both sides."""

from __future__ import annotations

import ast
from pathlib import Path

from flows.runtime.settings import PROJECT_DIR
from flows.superset import answer_cache

REDIS_STATE = PROJECT_DIR / "superset" / "rempart_superset" / "caching" / "redis_state.py"


def _constants(path: Path) -> dict[str, object]:
    """Module-level constants, f-strings over earlier constants included."""
    found: dict[str, object] = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id.isupper():
                source = ast.unparse(node.value)
                try:
                    found[target.id] = eval(source, {}, dict(found))
                except NameError:
                    continue
    return found


def test_both_sides_name_the_same_keys_and_buckets() -> None:
    written = _constants(REDIS_STATE)
    for name in ("KEY_ROOT", "GENERATION_KEY", "COUNTERS_KEY", "TIMING_KEY_PREFIX"):
        assert getattr(answer_cache, name) == written[name], name
    assert written["TIMING_BUCKETS_MS"] == answer_cache.TIMING_BUCKETS_MS
