"""Dashboard downloads (PNG, PDF) taken on the server, and handed to the person who asked only.

With ENABLE_DASHBOARD_DOWNLOAD_WEBDRIVER_SCREENSHOT, the dashboard's "Download" menu asks the
server for the picture: `POST /api/v1/dashboard/<id>/cache_dashboard_screenshot/`, then polls
`GET /api/v1/dashboard/<id>/screenshot/<key>/?download_format=png|pdf`. The Celery worker takes
it in the reports' Chromium, logged in as the person (THUMBNAIL_EXECUTORS: the current user),
and export_marking.py stamps the watermark on the way out. Superset keeps the picture in a
cache keyed without the person, so Rempart adds what it lacks:

* the picture is given only to the person whose request had it taken (its key is recorded
  with their id in Redis; anyone else gets 404, which the menu reads as "not ready");
* a request may not name someone else's permalink (`permalinkKey`): the state comes from the
  person's own dashboard;
* the person's request grants the worker, for a few minutes, a browser session as them
  (identity/machine_sessions.py refuses one otherwise);
* thumbnails (the dashboard list's card view) and chart screenshots are not served: Superset
  would take them as the first person to ask and show them to everyone, whatever their
  department.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, g, jsonify, request
from flask_login import current_user

from rempart_superset.caching.redis_state import KEY_ROOT, client
from rempart_superset.routes import (
    DASHBOARD_SCREENSHOT,
    DASHBOARD_SCREENSHOT_TAKE,
    NOT_SERVED,
    resolved_rule,
)

GRANT_SECONDS = 600
OWNER_SECONDS = 86_400


def grant_key(username: str) -> str:
    return f"{KEY_ROOT}:screenshot_grant:{username}"


def owner_key(cache_key: str) -> str:
    return f"{KEY_ROOT}:screenshot_owner:{cache_key}"


def may_take_screenshot_as(redis_url: str, username: str) -> bool:
    """Whether a request of this person asked for a screenshot in the last minutes."""
    return bool(client(redis_url).exists(grant_key(username)))


def requester() -> Any | None:
    """Who sends this request, by their session cookie or their API token; None if nobody.
    (Before the view runs, Flask-AppBuilder has not yet read the token: read it here.)"""
    user = g.get("user")
    if user is not None and getattr(user, "is_authenticated", False):
        return user
    if getattr(current_user, "is_authenticated", False):
        return current_user
    from flask_jwt_extended import get_current_user, verify_jwt_in_request

    try:
        verify_jwt_in_request(optional=True)
        user = get_current_user()
    except Exception:  # no token, or one Rempart would refuse: nobody
        return None
    return user if user is not None and user.is_active else None


def _refused(status: int, message: str) -> Response:
    response = jsonify(message=message)
    response.status_code = status
    return response


def install(app: Flask, redis_url: str) -> None:
    redis = client(redis_url)

    def guard() -> Response | None:
        rule = resolved_rule()
        if rule in NOT_SERVED:
            return _refused(404, "thumbnails and chart screenshots are not served by Rempart")
        take = rule == DASHBOARD_SCREENSHOT_TAKE and request.method == "POST"
        if not take and rule != DASHBOARD_SCREENSHOT:
            return None
        user = requester()
        if user is None:
            return None  # Superset answers 401
        if take:
            body = request.get_json(silent=True) or {}
            if body.get("permalinkKey"):
                return _refused(400, "a download is taken from your own view: no permalinkKey")
            redis.set(grant_key(user.username), "1", ex=GRANT_SECONDS)
        else:
            owner = redis.get(owner_key(str((request.view_args or {}).get("digest", ""))))
            if owner is None or owner.decode() != str(user.id):
                return _refused(404, "Not found")
        return None

    def record_owner(response: Response) -> Response:
        if (
            resolved_rule() == DASHBOARD_SCREENSHOT_TAKE
            and request.method == "POST"
            and response.status_code in (200, 202)
            and (user := requester()) is not None
        ):
            cache_key = (response.get_json(silent=True) or {}).get("cache_key")
            if cache_key:
                redis.set(owner_key(cache_key), str(user.id), ex=OWNER_SECONDS)
        return response

    app.before_request(guard)
    app.after_request(record_owner)
