"""Guards decide on the rule Flask resolved: every spelling of an id reaches the same rule,
and a Superset without one of the guarded rules serves nothing."""

from __future__ import annotations

import sys

from flask import Flask

from flows.runtime.settings import PROJECT_DIR

sys.path.insert(0, str(PROJECT_DIR / "superset"))

from rempart_superset.routes import (
    DASHBOARD_SCREENSHOT,
    DASHBOARD_SCREENSHOT_TAKE,
    EXPORTS,
    NOT_SERVED,
    refuse_unless_guarded,
    resolved_rule,
)


def _app(rules: set[str]) -> Flask:
    app = Flask(__name__)
    for number, rule in enumerate(sorted(rules)):
        app.add_url_rule(rule, f"view_{number}", lambda **_: resolved_rule() or "none")
    refuse_unless_guarded(app)
    return app


def test_every_spelling_of_an_id_resolves_to_the_guarded_rule() -> None:
    client = _app(NOT_SERVED | EXPORTS | {DASHBOARD_SCREENSHOT_TAKE}).test_client()
    for spelling in ("7", "+7", "%2B7", "07", "%207"):
        answer = client.get(f"/api/v1/dashboard/{spelling}/screenshot/key/")
        assert answer.text == DASHBOARD_SCREENSHOT, spelling


def test_a_superset_without_a_guarded_rule_serves_nothing() -> None:
    client = _app((NOT_SERVED | EXPORTS) - {"/api/v1/chart/<pk>/cache_screenshot/"}).test_client()
    answer = client.get("/api/v1/dashboard/7/screenshot/key/")
    assert answer.status_code == 503
    assert "/api/v1/chart/<pk>/cache_screenshot/" in answer.json["message"]
