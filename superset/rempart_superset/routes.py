"""The routes Rempart guards, named by the rule Flask resolved, never by the raw path.

Superset's routes take most ids as strings and convert them later (`int("+1") == 1`), and
Werkzeug decodes the path before matching: `/api/v1/chart/+1/…`, `/api/v1/chart/%2B1/…`,
`/api/v1/chart/01/…` and `/api/v1/chart/%201/…` all reach the view of `/api/v1/chart/1/…`. A
guard matching the raw path misses every spelling but one; the rule Werkzeug matched
(`request.url_rule`) is the same whatever the spelling, so every guard decides on it.

Each rule named here must be one of Superset's (`refuse_unless_guarded`): a Superset release
that renames one makes Rempart serve nothing, rather than leave a guard that never matches.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify, request

DASHBOARD_SCREENSHOT_TAKE = "/api/v1/dashboard/<pk>/cache_dashboard_screenshot/"
DASHBOARD_SCREENSHOT = "/api/v1/dashboard/<pk>/screenshot/<digest>/"

# Pictures Superset takes as whoever asks first and keeps for everyone: never served.
NOT_SERVED = frozenset(
    {
        "/api/v1/dashboard/<pk>/thumbnail/<digest>/",
        "/api/v1/chart/<pk>/thumbnail/<digest>/",
        "/api/v1/chart/<pk>/cache_screenshot/",
        "/api/v1/chart/<pk>/screenshot/<digest>/",
    }
)

# Where Superset hands out data as a file: each file is marked (exports/export_marking.py).
EXPORTS = frozenset(
    {
        "/api/v1/chart/data",
        "/api/v1/chart/<int:pk>/data/",
        "/api/v1/sqllab/export/<string:client_id>/",
        DASHBOARD_SCREENSHOT,
    }
)

# The legacy chart endpoints answer GET requests from a response cache keyed without the
# user (etag_cache): not served. Every chart of Rempart uses /api/v1/chart/data.
RETIRED_PREFIX = "/superset/explore_json"


def resolved_rule() -> str | None:
    """The rule of Superset's that this request reached, or None (no route: a 404)."""
    rule = request.url_rule
    return rule.rule if rule is not None else None


def missing_rules(app: Flask) -> list[str]:
    """The guarded rules that are not among the application's."""
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    return sorted((NOT_SERVED | EXPORTS | {DASHBOARD_SCREENSHOT_TAKE}) - rules)


def refuse_unless_guarded(app: Flask) -> None:
    """Serve nothing if a guarded rule is missing. Checked at the first request: Superset
    registers its API views after its configuration hooks have run."""
    checked: list[str] = []

    def check() -> Response | None:
        if not checked:
            checked.extend(missing_rules(app) or ["ok"])
        if checked == ["ok"]:
            return None
        response = jsonify(
            message=f"Superset has no route {', '.join(checked)}: Rempart's guard would never "
            "match it (rempart_superset/routes.py), so Rempart serves nothing"
        )
        response.status_code = 503
        return response

    app.before_request_funcs.setdefault(None, []).insert(0, check)
