"""Rempart's security manager: no session and no token on a password alone.

Superset's documented way in (CUSTOM_SECURITY_MANAGER) replaces both places that log people
in: the login form's view (`authdbview`) and the REST API (`security_api`, login and refresh).
Both go through the same steps: lockout (login_attempts.py), password, then the second
factor when the policy asks for it (second_factor.py), and only then a session registered on
the server (session_gate.py) or a token that says which factor it was issued on. Loading a
user back, from a cookie or from a token, checks those again, so a path that logged someone
in any other way gets nowhere.

The pipeline's service account (`rempart_sync`) has no second factor: it may log in through
the REST API only, only from this machine, with its generated password (see the README).

Over 450 lines because it is one class whose methods Superset calls by their names: each
login path Superset has is overridden here, beside the others, so that none is forgotten.
"""

import contextlib
import logging
import secrets
import time
from functools import cached_property
from typing import Any

import jwt
from flask import Flask, current_app, g, redirect, request, session, url_for
from flask_appbuilder import expose
from flask_appbuilder.api import safe
from flask_appbuilder.const import AUTH_LDAP
from flask_appbuilder.security.api import SecurityApi
from flask_appbuilder.security.decorators import no_cache
from flask_appbuilder.security.forms import LoginForm_db
from flask_appbuilder.security.views import AuthDBView, AuthLDAPView, AuthOAuthView
from flask_appbuilder.utils.base import get_safe_redirect
from flask_jwt_extended import (
    create_access_token,
    create_refresh_token,
    get_jwt,
    get_jwt_identity,
    jwt_required,
)
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from superset.security import SupersetSecurityManager
from werkzeug.wrappers import Response

from rempart_superset.audit.audit_trail import append_event
from rempart_superset.identity.account_lockout import AccountLockout, account_key
from rempart_superset.identity.directory import Directory, DirectoryUser
from rempart_superset.identity.login_attempts import LoginAttempts, refused
from rempart_superset.identity.machine_sessions import live_machine_session
from rempart_superset.identity.permission_memo import remembered
from rempart_superset.identity.second_factor import SecondFactor
from rempart_superset.identity.session_gate import (
    end_sessions_on_logout,
    live_session,
    start_session,
)
from rempart_superset.identity.session_registry import SessionRegistry, credential_of

_logger = logging.getLogger("rempart.security")

MFA_POLICIES = ("required", "optional", "off")
SERVICE_FACTOR = "service"
FACTOR_CLAIM = "rempart_factor"
# A token's session of the registry (session_registry.py): the token lives as long as it does.
SESSION_CLAIM = "rempart_session"
TOKEN_FACTORS = ("password", "totp", "recovery_code", SERVICE_FACTOR)
PENDING_KEY = "rempart_pending_login"
PENDING_SECONDS = 600  # password given, code not yet: as long as an enrolment may take
LOCAL_ADDRESSES = ("127.0.0.1", "::1")
# Any of these means a proxy relayed the request: it did not come from this machine.
FORWARDING_HEADERS = ("X-Forwarded-For", "X-Forwarded-Host", "X-Real-IP", "Forwarded")


def _form_login(view: AuthDBView | AuthLDAPView) -> Response:
    """The login form's POST, whoever checks the password."""
    security = view.appbuilder.sm
    next_url = get_safe_redirect(request.args.get("next", ""))
    form = LoginForm_db()
    if not form.validate_on_submit():
        return refused(api=False, next_url=next_url)
    username, password = security.account_name(form.username.data), form.password.data
    attempts = security.login_attempts
    if attempts.is_locked(username, password):
        return refused(api=False, next_url=next_url)
    if security.is_service_account(username):
        attempts.refused_apart(username, "service_account_in_browser")
        return refused(api=False, next_url=next_url)
    user = security.authenticate(username, password)
    if not user:
        attempts.failed(username, "password")
        return refused(api=False, next_url=next_url)
    return security.continue_login(user, next_url)


class RempartAuthDBView(AuthDBView):
    @expose("/login/", methods=["GET", "POST"])
    @no_cache
    def login(self) -> Response:
        return _form_login(self) if request.method == "POST" else super().login()


class RempartAuthLDAPView(AuthLDAPView):
    @expose("/login/", methods=["GET", "POST"])
    @no_cache
    def login(self) -> Response:
        return _form_login(self) if request.method == "POST" else super().login()


class RempartAuthOAuthView(AuthOAuthView):
    @expose("/oauth-authorized/<provider>")
    @no_cache
    def oauth_authorized(self, provider: str) -> Response:
        """Back from the identity provider: Authlib checks the state, sends the PKCE verifier
        and verifies the ID token (signature by the provider's JWKS, issuer, audience, expiry,
        nonce); the groups of the token decide the roles; then Rempart's own steps."""
        security = self.appbuilder.sm
        remote = security.oauth_remotes.get(provider)
        if remote is None:
            return refused(api=False)
        try:
            token = remote.authorize_access_token()
            person = security.identity_provider_person(remote, token)
        except Exception as error:
            _logger.error("OpenID Connect login refused: %s", error)
            return refused(api=False)
        if security.login_attempts.is_locked(person.username):
            return refused(api=False)
        user = security.directory_account(person)
        if user is None:
            security.login_attempts.failed(person.username, "no_directory_group")
            return refused(api=False)
        next_url = ""
        with contextlib.suppress(jwt.InvalidTokenError, KeyError):
            state = jwt.decode(request.args["state"], session["oauth_state"], algorithms=["HS256"])
            next_url = get_safe_redirect((state.get("next") or [""])[0])
        return security.continue_login(user, next_url, first_factor="identity_provider")


class RempartSecurityApi(SecurityApi):
    @expose("/login", methods=["POST"])
    @safe
    def login(self) -> Response:
        """Log in with `username`, `password`, `provider` (db) and, for an account with a
        second factor, `otp`: the current code or a recovery code."""
        body = request.get_json(silent=True) if request.is_json else None
        if not isinstance(body, dict):
            return self.response_400(message="Request payload is not a JSON object")
        fields = {key: body.get(key) for key in ("username", "password", "provider", "otp")}
        if not all(isinstance(fields[key], str) and fields[key] for key in fields if key != "otp"):
            return self.response_400(message="username, password and provider are required")
        if fields["otp"] is not None and not isinstance(fields["otp"], str):
            return self.response_400(message="otp must be a string")
        if fields["provider"] not in ("db", "ldap"):
            return self.response_400(message="provider must be db or ldap")
        security = self.appbuilder.sm
        attempts = security.login_attempts
        username = security.account_name(fields["username"])
        if attempts.is_locked(username, fields["password"]):
            return refused(api=True)
        service = security.is_service_account(username)
        if service and not security.request_is_local():
            attempts.refused_apart(username, "service_account_not_local")
            return refused(api=True)
        user = security.authenticate(username, fields["password"])
        if not user:
            attempts.failed(username, "password")
            return refused(api=True)
        if service:
            factor = SERVICE_FACTOR
        elif security.mfa_required_for(user):
            if not security.second_factor.is_enrolled(user.id):
                attempts.failed(username, "not_enrolled")
                return refused(api=True)
            factor = security.check_code(user, fields["otp"] or "")
            if factor is None:
                return refused(api=True)
        else:
            factor = "password"
        attempts.succeeded(username, factor)
        # The tokens belong to a session of the registry, under the browsers' rules: idle and
        # absolute limits, and ended by logout, a second-factor reset or a password change.
        token_session = security.session_registry.open(
            user.id, factor, credential=credential_of(user)
        )
        claims = {FACTOR_CLAIM: factor, SESSION_CLAIM: token_session}
        access = create_access_token(str(user.id), fresh=True, additional_claims=claims)
        answer = {"access_token": access}
        if body.get("refresh") is True:
            answer["refresh_token"] = create_refresh_token(str(user.id), additional_claims=claims)
        return self.response(200, **answer)

    @expose("/refresh", methods=["POST"])
    @jwt_required(refresh=True)
    @safe
    def refresh(self) -> Response:
        """A new access token for the factor and session the refresh token was issued on, if
        they still satisfy the policy (load_user_jwt has checked them); a directory account's
        roles are first made to match its groups as they are now."""
        security = self.appbuilder.sm
        claims = {name: get_jwt().get(name) for name in (FACTOR_CLAIM, SESSION_CLAIM)}
        if not security.directory_still_vouches(g.user):
            security.session_registry.close(claims[SESSION_CLAIM])
            return refused(api=True)
        token = create_access_token(get_jwt_identity(), fresh=False, additional_claims=claims)
        return self.response(200, access_token=token)


class RempartSecurityManager(SupersetSecurityManager):
    authdbview = RempartAuthDBView
    authldapview = RempartAuthLDAPView
    authoauthview = RempartAuthOAuthView
    security_api = RempartSecurityApi

    # -- collaborators, built on first use from Superset's configuration ------------------

    @cached_property
    def _engine(self) -> Engine:
        # With Superset's own options: on SQLite, wait for a writer (a report run's log, in
        # another Celery process) rather than fail at once.
        config = current_app.config
        return create_engine(
            config["SQLALCHEMY_DATABASE_URI"], **config.get("SQLALCHEMY_ENGINE_OPTIONS", {})
        )

    @cached_property
    def second_factor(self) -> SecondFactor:
        return SecondFactor(self._engine, current_app.config["SECRET_KEY"])

    @cached_property
    def login_attempts(self) -> LoginAttempts:
        return LoginAttempts(AccountLockout(self._engine, current_app.config["LOCKOUT_POLICY"]))

    @cached_property
    def session_registry(self) -> SessionRegistry:
        config = current_app.config
        return SessionRegistry(
            self._engine,
            idle_seconds=config["REMPART_SESSION_IDLE_SECONDS"],
            lifetime_seconds=config["PERMANENT_SESSION_LIFETIME"].total_seconds(),
        )

    def install_rempart_security(self, app: Flask) -> None:
        """Tables, and logout ending the server-side session (called at start)."""
        self.second_factor.create_tables()
        self.login_attempts.lockout.create_tables()
        self.session_registry.create_tables()
        end_sessions_on_logout(app, self.session_registry)

    # -- permission checks, remembered until permissions change (permission_memo.py) ------

    def exist_permission_on_roles(
        self, view_name: str, permission_name: str, role_ids: list[int]
    ) -> bool:
        parent = super()
        return remembered(
            current_app.config["REDIS_URL"],
            ("roles", view_name, permission_name, tuple(sorted(role_ids))),
            lambda: parent.exist_permission_on_roles(view_name, permission_name, role_ids),
        )

    def is_item_public(self, permission_name: str, view_name: str) -> bool:
        parent = super()
        return remembered(
            current_app.config["REDIS_URL"],
            ("public", view_name, permission_name),
            lambda: parent.is_item_public(permission_name, view_name),
        )

    # -- policy ---------------------------------------------------------------------------

    @property
    def mfa_policy(self) -> str:
        policy = current_app.config["REMPART_MFA"]
        if policy not in MFA_POLICIES:
            raise RuntimeError(f"REMPART_MFA must be one of {MFA_POLICIES}, not {policy!r}")
        return policy

    @staticmethod
    def is_service_account(username: str) -> bool:
        names = current_app.config["REMPART_SERVICE_ACCOUNTS"]
        return account_key(username) in {account_key(name) for name in names}

    @staticmethod
    def is_report_account(username: str) -> bool:
        """The accounts reports run as (machine_sessions.py): no login of any kind."""
        names = current_app.config["REMPART_REPORT_ACCOUNTS"]
        return account_key(username) in {account_key(name) for name in names}

    def account_name(self, typed: str) -> str:
        """The name of the account a login typed as `typed` opens: Flask-AppBuilder finds
        accounts case-insensitively, then by e-mail, so every rule of a login (lockout,
        service and report accounts) is decided on the account found, not on the name as
        typed. A name no account has is kept as typed (its failures count all the same)."""
        user = self.find_user(username=typed) or self.find_user(email=typed)
        return user.username if user is not None else typed

    def mfa_required_for(self, user: Any) -> bool:
        """Whether this person must give a code: always under `required`, once enrolled under
        `optional`. Service accounts are handled apart (never in a browser)."""
        if self.mfa_policy == "off":
            return False
        if self.mfa_policy == "required":
            return True
        return self.second_factor.is_enrolled(user.id)

    @staticmethod
    def request_is_local() -> bool:
        if request.remote_addr not in LOCAL_ADDRESSES:
            return False
        return not any(header in request.headers for header in FORWARDING_HEADERS)

    # -- the steps of a login -------------------------------------------------------------

    def authenticate(self, username: str, password: str) -> Any | None:
        """The account these credentials open: the directory's when Rempart uses one, a local
        account's otherwise (and always for the service accounts). Never a report account's.
        `username` is the account's name (`account_name`), as every login path passes it."""
        if self.is_report_account(username):
            return None
        if self.auth_type == AUTH_LDAP and not self.is_service_account(username):
            user = self.auth_user_ldap(username, password)
        else:
            user = self.auth_user_db(username, password)
        if user is None or self.is_report_account(user.username):
            return None
        return user

    def auth_user_ldap(self, username: str, password: str) -> Any | None:
        """Check the password with the directory, then make the local account match it: its
        names, and its roles from its groups (REMPART_DIRECTORY_ROLES), at every login. A
        directory account in none of the mapped groups loses every role and is refused."""
        if not username or not password:
            return None
        local = self.find_user(username=username)
        if local is not None and not local.is_active:
            return None
        try:
            person = Directory(current_app.config["REMPART_DIRECTORY"]).authenticate(
                username, password
            )
        except (ConnectionError, OSError) as error:
            _logger.error("LDAP login of %r failed: %s", username, error)
            return None
        if person is None:
            if local is not None:
                self.update_user_auth_stat(local, False)
            return None
        return self.directory_account(person)

    @staticmethod
    def identity_provider_person(remote: Any, token: dict) -> DirectoryUser:
        """Who the verified ID token names, and their groups (REMPART_OIDC_GROUPS_CLAIM; from
        the userinfo endpoint if the token has none). Keycloak's full group paths count for a
        top-level group only (`/rempart-sales` is `rempart-sales`): a nested group of the same
        name (`/projects/rempart-sales`) is another group, which maps to nothing."""
        claims = dict(token.get("userinfo") or {})
        if not claims.get("sub"):
            raise ValueError("the provider's answer has no verified ID token")
        config = current_app.config["REMPART_OIDC"]
        if config["groups_claim"] not in claims:
            claims.update(remote.userinfo(token=token))
        groups = claims.get(config["groups_claim"]) or []
        if isinstance(groups, str):
            groups = [groups]
        username = claims.get(config["username_claim"])
        if not isinstance(username, str) or not username:
            raise ValueError(f"the ID token has no {config['username_claim']} claim")
        return DirectoryUser(
            username=username,
            first_name=str(claims.get("given_name") or username),
            last_name=str(claims.get("family_name") or username),
            email=str(claims.get("email") or f"{username}@directory.invalid"),
            groups=frozenset(
                group[1:] if group.startswith("/") and group.count("/") == 1 else group
                for group in map(str, groups)
            ),
        )

    def directory_still_vouches(self, user: Any) -> bool:
        """Before a refresh: a directory account (REMPART_AUTH=ldap) keeps its tokens only
        while the directory still has it in one of Rempart's groups, and its roles follow its
        groups as they are now. Local and service accounts: True."""
        if self.auth_type != AUTH_LDAP or self.is_service_account(user.username):
            return True
        try:
            person = Directory(current_app.config["REMPART_DIRECTORY"]).lookup(user.username)
        except (ConnectionError, OSError) as error:
            _logger.error("LDAP lookup of %r failed: %s", user.username, error)
            return False  # fail closed: the person logs in again when it answers
        return person is not None and self.directory_account(person) is not None

    def directory_account(self, person: DirectoryUser) -> Any | None:
        """The local account of a person the directory (LDAP or the identity provider) has
        vouched for, created or updated to match it: names, and roles from its groups
        (REMPART_DIRECTORY_ROLES), at every login. None (refused) for a person in none of
        the mapped groups, whose account then loses every role, for a disabled account, and
        for the name of a service account, which no directory may take over."""
        if self.is_service_account(person.username) or self.is_report_account(person.username):
            _logger.warning("the directory offered service account %s: refused", person.username)
            return None
        mapping = current_app.config["REMPART_DIRECTORY_ROLES"]
        role_names = sorted({role for group in person.groups for role in mapping.get(group, [])})
        roles = [role for role in map(self.find_role, role_names) if role is not None]
        user = self.find_user(username=person.username)
        if user is not None and not user.is_active:
            return None
        if user is None and roles:
            user = self.add_user(
                username=person.username,
                first_name=person.first_name,
                last_name=person.last_name,
                email=person.email,
                role=roles,
                password=secrets.token_urlsafe(32),  # never used: the directory decides
            )
            if not user:
                return None
        elif user is not None:
            user.roles = roles
            user.first_name, user.last_name = person.first_name, person.last_name
            self.update_user(user)
        if user is None or not roles:
            _logger.warning("%s is in no directory group of Rempart: refused", person.username)
            return None
        self.update_user_auth_stat(user)
        return user

    def check_code(self, user: Any, code: str) -> str | None:
        """The factor a code proves ('totp' or 'recovery_code'), spent; a wrong, replayed or
        used code counts as a failed login."""
        factor = self.second_factor.verify(user.id, code)
        if factor is None:
            self.login_attempts.failed(user.username, "code")
            return None
        if factor == "recovery_code":
            append_event(
                "superset_recovery_code_used",
                user.username,
                {
                    "address": request.remote_addr,
                    "path": request.path,
                    "recovery_codes_left": self.second_factor.recovery_codes_left(user.id),
                },
            )
        return factor

    def continue_login(self, user: Any, next_url: str, first_factor: str = "password") -> Response:
        """After the right password (or the identity provider's word) in the browser: the
        code page, or the session."""
        if not self.mfa_required_for(user):
            return self.finish_login(user, first_factor, next_url)
        session.clear()
        session[PENDING_KEY] = {
            "user_id": user.id,
            "username": user.username,
            "at": time.time(),
            "next": next_url,
        }
        enrolled = self.second_factor.is_enrolled(user.id)
        return redirect(url_for("rempart_mfa.verify" if enrolled else "rempart_mfa.enrol"))

    def pending_login(self) -> dict | None:
        """The login waiting for its code in this browser session, if still fresh."""
        pending = session.get(PENDING_KEY)
        if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_SECONDS:
            session.pop(PENDING_KEY, None)
            return None
        return pending

    def open_session(self, user: Any, factor: str) -> None:
        start_session(self.session_registry, user, factor)
        self.login_attempts.succeeded(user.username, factor)

    def finish_login(self, user: Any, factor: str, next_url: str) -> Response:
        self.open_session(user, factor)
        return redirect(next_url or self.appbuilder.get_url_for_index)

    # -- loading a user back --------------------------------------------------------------

    def load_user(self, pk: int | str) -> Any | None:
        """From the session cookie: only a live session the server opened, a person's or
        the reports' browser's (machine_sessions.py)."""
        user = super().load_user(pk)
        if user is None:
            return None
        if live_machine_session(current_app.config["REDIS_URL"], user.id):
            return user
        if not live_session(self.session_registry, user):
            return None
        return user

    def load_user_jwt(self, _jwt_header: dict, jwt_data: dict) -> Any | None:
        """From a token: only one issued by Rempart's login, on a factor still enough, whose
        session is still live."""
        factor = jwt_data.get(FACTOR_CLAIM)
        if factor not in TOKEN_FACTORS:
            return None
        user = self.get_user_by_id(int(jwt_data["sub"]))
        if user is None or not user.is_active:
            return None
        session_token = jwt_data.get(SESSION_CLAIM)
        if not self.session_registry.check(session_token, user.id, credential=credential_of(user)):
            return None
        if (factor == SERVICE_FACTOR) != self.is_service_account(user.username):
            return None
        if factor == "password" and self.mfa_required_for(user):
            return None
        g.user = user
        return user
