"""A real OpenID Connect provider for the single sign-on tests, built on Authlib's server:
discovery, the authorization code flow with PKCE (S256, required), ID tokens signed with an
RSA key published as JWKS, and a login form. It serves 127.0.0.1 from a thread of the test
process; people and their groups are a dictionary the test edits."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from html import escape

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask, jsonify, request
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server

from tests.conftest import free_port


@dataclass
class Person:
    password: str
    groups: list[str]
    email: str = ""


@dataclass
class Client:
    client_id: str
    client_secret: str
    redirect_uris: list[str] = field(default_factory=list)

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        allowed = {"openid", "email", "profile", "groups"}
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Code:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    username: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


class IdentityProvider:
    def __init__(self) -> None:
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.people: dict[str, Person] = {}
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, Code] = {}
        self.key = RSAKey.generate_key(2048, parameters={"kid": "rempart-test", "use": "sig"})
        self.app = self._build()
        self._server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> IdentityProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()

    def register_client(self, redirect_uri: str) -> Client:
        client = Client(secrets.token_hex(8), secrets.token_urlsafe(24), [redirect_uri])
        self.clients[client.client_id] = client
        return client

    def _build(self) -> Flask:
        app = Flask("identity_provider")
        app.secret_key = secrets.token_bytes(32)
        provider = self

        class CodeGrant(grants.AuthorizationCodeGrant):
            def save_authorization_code(self, code: str, req: object) -> None:
                data = req.payload.data
                provider.codes[code] = Code(
                    code=code,
                    client_id=req.client.client_id,
                    redirect_uri=req.payload.redirect_uri,
                    scope=req.payload.scope,
                    username=req.user,
                    nonce=data.get("nonce"),
                    code_challenge=data.get("code_challenge"),
                    code_challenge_method=data.get("code_challenge_method"),
                )

            def query_authorization_code(self, code: str, client: Client) -> Code | None:
                found = provider.codes.get(code)
                return found if found and found.client_id == client.client_id else None

            def delete_authorization_code(self, authorization_code: Code) -> None:
                provider.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code: Code) -> str:
                return authorization_code.username

        class IdToken(OpenIDCode):
            def exists_nonce(self, nonce: str, req: object) -> bool:
                return any(c.nonce == nonce for c in provider.codes.values())

            def resolve_client_private_key(self, client: Client) -> RSAKey:
                return provider.key

            def get_client_algorithm(self, client: Client) -> str:
                return "RS256"

            def get_encode_header(self, client: Client) -> dict:
                return {"alg": "RS256", "kid": "rempart-test"}

            def get_client_claims(self, client: Client) -> dict:
                return {"iss": provider.issuer, "aud": [client.client_id]}

            def generate_user_info(self, user: str, scope: str) -> UserInfo:
                person = provider.people[user]
                return UserInfo(
                    sub=user,
                    preferred_username=user,
                    given_name=user.title(),
                    family_name="Provider",
                    email=person.email or f"{user}@idp.test",
                    groups=list(person.groups),
                )

        server = AuthorizationServer(
            app,
            query_client=self.clients.get,
            save_token=lambda token, req: None,  # access tokens are not used afterwards
        )
        server.register_grant(CodeGrant, [CodeChallenge(required=True), IdToken()])

        @app.get("/.well-known/openid-configuration")
        def discovery() -> object:
            return jsonify(
                issuer=self.issuer,
                authorization_endpoint=f"{self.issuer}/authorize",
                token_endpoint=f"{self.issuer}/token",
                jwks_uri=f"{self.issuer}/jwks",
                response_types_supported=["code"],
                subject_types_supported=["public"],
                id_token_signing_alg_values_supported=["RS256"],
                code_challenge_methods_supported=["S256"],
                token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"],
                scopes_supported=["openid", "email", "profile", "groups"],
            )

        @app.get("/jwks")
        def jwks() -> object:
            return jsonify(keys=[self.key.as_dict(private=False)])

        @app.route("/authorize", methods=["GET", "POST"])
        def authorize() -> object:
            if request.method == "GET":
                server.get_consent_grant(end_user=None)  # refuses a bad request up front
                hidden = "".join(
                    f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
                    for k, v in request.args.items()
                )
                return (
                    '<form method="post" action="/authorize"><h1>Test identity provider</h1>'
                    f'{hidden}<input id="idp-username" name="username">'
                    '<input id="idp-password" name="password" type="password">'
                    '<button type="submit">Log in at the provider</button></form>'
                )
            person = self.people.get(request.form.get("username", ""))
            if person is None or not secrets.compare_digest(
                person.password, request.form.get("password", "")
            ):
                return "wrong credentials", 401
            grant = server.get_consent_grant(end_user=request.form["username"])
            return server.create_authorization_response(
                grant_user=request.form["username"], grant=grant
            )

        @app.post("/token")
        def token() -> object:
            return server.create_token_response()

        return app
