"""Only sessions the server opened, still live, are logged in.

Flask-Login trusts any signed cookie naming a user. Rempart's security manager loads a user
from the session only through `live_session`: the cookie must also carry a token of the
session registry (session_registry.py), which logout deletes and idleness expires. A cookie
without one (an older login, a copied cookie after logout, a path that logged in without
Rempart's second factor) is emptied and its request treated as anonymous: fail closed.
"""

from typing import Any

from flask import Flask, has_request_context, request, session
from flask_login import login_user, user_logged_out

from rempart_superset.audit.audit_trail import append_event
from rempart_superset.identity.session_registry import SessionRegistry, credential_of

SESSION_TOKEN_KEY = "_rempart_sid"  # noqa: S105 (a key of the session, not a secret)


def live_session(registry: SessionRegistry, user: Any) -> bool:
    if not has_request_context():
        return False
    token = session.get(SESSION_TOKEN_KEY)
    if registry.check(token, int(user.id), credential=credential_of(user)):
        return True
    session.clear()
    return False


def start_session(registry: SessionRegistry, user: Any, factor: str) -> None:
    session.clear()  # nothing of the anonymous session (the pending login) carries over
    login_user(user, remember=False)
    session[SESSION_TOKEN_KEY] = registry.open(user.id, factor, credential=credential_of(user))


def end_sessions_on_logout(app: Flask, registry: SessionRegistry) -> None:
    def ended(sender: object, user: Any = None, **extra: object) -> None:
        token = session.pop(SESSION_TOKEN_KEY, None)
        if token is None:
            return
        registry.close(token)
        # Logging out ends the account's other sessions too: other browsers, API tokens.
        others = registry.close_all_for(int(user.id)) if user is not None else 0
        append_event(
            "superset_logout",
            getattr(user, "username", None) or "anonymous",
            {"address": request.remote_addr, "path": request.path, "other_sessions": others},
        )

    # Held by the registry's owner: blinker keeps weak references only.
    app.extensions["rempart_logout_handler"] = ended
    user_logged_out.connect(ended, app)
