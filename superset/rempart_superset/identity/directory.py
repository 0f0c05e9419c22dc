"""Who the organisation's directory says a person is: LDAP (OpenLDAP, Active Directory) here,
and the identity provider's ID token (security_manager.py), both as a DirectoryUser.

For LDAP, the classic search-then-bind: a bind account searches the user by its login attribute (the
typed name escaped, so `*`, `(`, `)`, `\\` or NUL cannot change the filter), Rempart binds as
the entry found with the typed password, then lists the groups whose `member` is that entry.
Through ldap3 (pure Python). A plain `ldap://` URL is refused unless it is on this machine or
upgraded with StartTLS, so no password crosses the network in clear.
"""

import ipaddress
import logging
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ldap3 import ALL_ATTRIBUTES, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars

_logger = logging.getLogger("rempart.directory")


@dataclass(frozen=True)
class DirectorySettings:
    url: str
    bind_dn: str
    bind_password_file: str
    user_base: str
    group_base: str
    uid_attribute: str = "uid"
    user_filter: str = "(objectClass=person)"
    group_filter: str = "(objectClass=groupOfNames)"
    group_name_attribute: str = "cn"
    start_tls: bool = False
    ca_file: str = ""

    def check(self) -> None:
        """Refuse settings that would send passwords in clear over the network."""
        if urlsplit(self.url).scheme not in ("ldap", "ldaps"):
            raise ValueError(f"REMPART_LDAP_URL must be ldaps:// or ldap://, not {self.url!r}")
        if not self.start_tls:
            refuse_clear_text(self.url, "REMPART_LDAP_URL", secure_schemes=("ldaps",))
        for name in ("bind_dn", "user_base", "group_base"):
            if not getattr(self, name):
                raise ValueError(f"REMPART_LDAP_{name.upper()} is not set")


def refuse_clear_text(url: str, name: str, secure_schemes: tuple[str, ...]) -> None:
    """A URL without TLS is accepted to this machine only."""
    parts = urlsplit(url)
    if parts.scheme not in secure_schemes and not _is_loopback(parts.hostname):
        raise ValueError(
            f"{name} ({url}) reaches another machine without TLS: use "
            f"{' or '.join(s + '://' for s in secure_schemes)} (or StartTLS for LDAP)"
        )


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class DirectoryUser:
    username: str
    first_name: str
    last_name: str
    email: str
    groups: frozenset[str]


def _first(entry: dict, name: str) -> str:
    values = entry.get(name) or []
    if isinstance(values, str):
        return values
    return str(values[0]) if values else ""


class Directory:
    def __init__(self, settings: DirectorySettings) -> None:
        settings.check()
        self.settings = settings
        tls = None
        if settings.url.startswith("ldaps://") or settings.start_tls:
            tls = Tls(
                validate=ssl.CERT_REQUIRED,
                ca_certs_file=settings.ca_file or None,
                version=ssl.PROTOCOL_TLS_CLIENT,
            )
        self.server = Server(settings.url, tls=tls, connect_timeout=10)

    def _connect(self, dn: str, password: str) -> Connection | None:
        """A bound connection, or None when the directory refuses these credentials."""
        if not password:  # an empty password is an anonymous bind: never a login
            return None
        connection = Connection(
            self.server, user=dn, password=password, receive_timeout=10, raise_exceptions=False
        )
        if self.settings.start_tls and not connection.start_tls():
            raise ConnectionError(f"StartTLS refused by {self.settings.url}")
        if not connection.bind():
            connection.unbind()
            return None
        return connection

    def authenticate(self, username: str, password: str) -> DirectoryUser | None:
        """The directory's account for these credentials, with its group names; None if the
        name is unknown or the password wrong. Unreachable directory: ConnectionError."""
        return self._person(username, password)

    def lookup(self, username: str) -> DirectoryUser | None:
        """The directory's account of this name as it is now (its groups), without its
        password, through the bind account: None if the directory no longer has it."""
        return self._person(username, None)

    def _person(self, username: str, password: str | None) -> DirectoryUser | None:
        settings = self.settings
        bind_password = Path(settings.bind_password_file).read_text(encoding="utf-8").strip()
        try:
            search = self._connect(settings.bind_dn, bind_password)
            if search is None:
                raise ConnectionError(f"the directory refused the bind account {settings.bind_dn}")
            try:
                query = (
                    f"(&{settings.user_filter}"
                    f"({settings.uid_attribute}={escape_filter_chars(username)}))"
                )
                search.search(
                    settings.user_base, query, SUBTREE, attributes=ALL_ATTRIBUTES, size_limit=2
                )
                if len(search.entries) != 1:
                    return None
                entry = search.response[0]
                user_dn, attributes = entry["dn"], entry["attributes"]
                if password is not None:
                    own = self._connect(user_dn, password)
                    if own is None:
                        return None
                    own.unbind()
                search.search(
                    settings.group_base,
                    f"(&{settings.group_filter}(member={escape_filter_chars(user_dn)}))",
                    SUBTREE,
                    attributes=[settings.group_name_attribute],
                )
                groups = frozenset(
                    _first(group["attributes"], settings.group_name_attribute)
                    for group in search.response
                    if group.get("type") == "searchResEntry"
                )
            finally:
                search.unbind()
        except LDAPException as error:
            raise ConnectionError(f"LDAP error from {settings.url}: {error}") from error
        login = _first(attributes, settings.uid_attribute) or username
        return DirectoryUser(
            username=login,
            first_name=_first(attributes, "givenName") or login,
            last_name=_first(attributes, "sn") or login,
            email=_first(attributes, "mail") or f"{login}@directory.invalid",
            groups=groups,
        )
