"""Single sign-on from an LDAP directory: a real OpenLDAP server (Debian's `slapd`), started in
a temporary folder on a local port, and the session's Superset restarted with
REMPART_AUTH=ldap. Groups map to roles from seeds/departments.csv at every login."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from flows.superset.rest_client import SupersetClient
from tests.conftest import free_port
from tests.e2e.conftest import Deployment, chart_data, dataset_ids, superset_restarted_with

pytestmark = pytest.mark.e2e

SUFFIX = "dc=rempart,dc=test"
ROOT_DN = f"cn=admin,{SUFFIX}"
BIND_DN = f"cn=rempart-bind,ou=services,{SUFFIX}"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"
SCHEMAS = ("core", "cosine", "inetorgperson", "nis")
PASSWORDS = {"alice": "alice's own password", "o(brien)": "o'brien's own password"}


def _tool(name: str) -> str:
    """slapd lives in /usr/sbin, which is not on every user's PATH."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if found is None:
        pytest.fail(f"{name} is missing: `apt-get install slapd ldap-utils` (make test does)")
    return found


def _person(uid: str, password: str) -> str:
    mail = "".join(filter(str.isalnum, uid)) + "@rempart.test"
    return (
        f"dn: uid={uid},{PEOPLE}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid}\n"
        f"sn: Directory\ngivenName: {uid.title()}\nmail: {mail}\nuserPassword: {password}\n\n"
    )


class Slapd:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"ldap://127.0.0.1:{self.port}"
        self.root_password = "root password of this test"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        data = self.folder / "data"
        data.mkdir(parents=True)
        hashed = subprocess.run(
            [_tool("slappasswd"), "-s", self.root_password],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        schemas = "".join(f"include /etc/ldap/schema/{name}.schema\n" for name in SCHEMAS)
        config = self.folder / "slapd.conf"
        config.write_text(
            f"{schemas}pidfile {self.folder}/slapd.pid\n"
            "modulepath /usr/lib/ldap\nmoduleload back_mdb\n"
            f'database mdb\nsuffix "{SUFFIX}"\nrootdn "{ROOT_DN}"\nrootpw {hashed}\n'
            f"directory {data}\n"
            "access to attrs=userPassword by self write by anonymous auth by * none\n"
            "access to * by users read by * none\n"
        )
        self.process = subprocess.Popen(
            [_tool("slapd"), "-f", str(config), "-h", f"{self.url}/", "-d", "0"],
            stdout=subprocess.DEVNULL,
            stderr=(self.folder / "slapd.log").open("w"),
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"slapd did not start: {(self.folder / 'slapd.log').read_text()}")

    def ldif(self, command: str, text: str) -> None:
        subprocess.run(
            [_tool(command), "-x", "-H", self.url, "-D", ROOT_DN, "-w", self.root_password],
            input=text,
            text=True,
            capture_output=True,
            check=True,
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def directory(deployment: Deployment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    """The directory, and Superset restarted to log people in against it (then back)."""
    slapd = Slapd(tmp_path_factory.mktemp("slapd"))
    slapd.start()
    bind_password = "bind account password"
    slapd.ldif(
        "ldapadd",
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: rempart\no: Test\n\n"
        + "".join(
            f"dn: ou={unit},{SUFFIX}\nobjectClass: organizationalUnit\nou: {unit}\n\n"
            for unit in ("people", "groups", "services")
        )
        + f"dn: {BIND_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
        f"cn: rempart-bind\nuserPassword: {bind_password}\n\n"
        + "".join(_person(uid, password) for uid, password in PASSWORDS.items())
        + f"dn: cn=rempart-sales,{GROUPS}\nobjectClass: groupOfNames\ncn: rempart-sales\n"
        f"member: uid=alice,{PEOPLE}\nmember: uid=o(brien),{PEOPLE}\n\n"
        f"dn: cn=rempart-support,{GROUPS}\nobjectClass: groupOfNames\ncn: rempart-support\n"
        f"member: {BIND_DN}\n",
    )
    ldap_env = {
        "REMPART_AUTH": "ldap",
        "REMPART_MFA": "optional",  # directory users here have not enrolled a device
        "REMPART_LDAP_URL": slapd.url,
        "REMPART_LDAP_BIND_DN": BIND_DN,
        "REMPART_LDAP_USER_BASE": PEOPLE,
        "REMPART_LDAP_GROUP_BASE": GROUPS,
    }
    try:
        with superset_restarted_with(
            deployment, ldap_env, secrets={"ldap_bind_password": bind_password}
        ):
            yield slapd
    finally:
        slapd.stop()


def _login(
    deployment: Deployment,
    username: str,
    password: str,
    address: str = "127.0.0.5",
    refresh: bool = False,
) -> httpx.Response:
    """From an address of each test's own: the per-address limit counts failures."""
    transport = httpx.HTTPTransport(local_address=address)
    body = {"username": username, "password": password, "provider": "ldap", "refresh": refresh}
    with httpx.Client(base_url=deployment.url, transport=transport, timeout=60) as http:
        return http.post("/api/v1/security/login", json=body)


def _refreshed(deployment: Deployment, refresh_token: str) -> httpx.Response:
    with httpx.Client(base_url=deployment.url, timeout=60) as http:
        return http.post(
            "/api/v1/security/refresh", headers={"Authorization": f"Bearer {refresh_token}"}
        )


def _departments_seen(deployment: Deployment, token: str) -> set[str]:
    client = SupersetClient(deployment.url, token)
    try:
        ids = dataset_ids(client)
        response = chart_data(client, ids["fct_kpi_values"])
        assert response.status_code == 200, response.text
        return {row["department"] for row in response.json()["result"][0]["data"]}
    finally:
        client.close()


def _roles(deployment: Deployment, token: str) -> set[str]:
    with httpx.Client(base_url=deployment.url, timeout=60) as http:
        answer = http.get("/api/v1/me/roles/", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    return set(answer.json()["result"]["roles"])


def test_a_directory_user_gets_its_department_from_its_group(
    deployment: Deployment, directory: Slapd
) -> None:
    accepted = _login(deployment, "alice", PASSWORDS["alice"], refresh=True)
    assert accepted.status_code == 200, accepted.text
    token, refresh_token = accepted.json()["access_token"], accepted.json()["refresh_token"]
    assert _roles(deployment, token) == {"Viewer sales"}
    assert _refreshed(deployment, refresh_token).status_code == 200
    assert _departments_seen(deployment, token) == {"sales"}
    assert _login(deployment, "alice", "not her password").status_code == 401

    # Out of the group in the directory: her tokens mint nothing more and end, her roles go,
    # and the next login has no department left.
    directory.ldif(
        "ldapmodify",
        f"dn: cn=rempart-sales,{GROUPS}\nchangetype: modify\ndelete: member\n"
        f"member: uid=alice,{PEOPLE}\n",
    )
    assert _refreshed(deployment, refresh_token).status_code == 401
    (granted,) = _metadata_roles(deployment, "alice")
    assert granted == 0
    with httpx.Client(base_url=deployment.url, timeout=60) as http:
        me = http.get("/api/v1/me/", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401
    assert _login(deployment, "alice", PASSWORDS["alice"]).status_code == 401

    # Back in the group: access comes back at the next login.
    directory.ldif(
        "ldapmodify",
        f"dn: cn=rempart-sales,{GROUPS}\nchangetype: modify\nadd: member\n"
        f"member: uid=alice,{PEOPLE}\n",
    )
    again = _login(deployment, "alice", PASSWORDS["alice"])
    assert again.status_code == 200
    assert _roles(deployment, again.json()["access_token"]) == {"Viewer sales"}


def _metadata_roles(deployment: Deployment, username: str) -> tuple[int]:
    import sqlite3

    with sqlite3.connect(deployment.settings.state_dir / "superset" / "superset.db") as db:
        return db.execute(
            "select count(*) from ab_user_role join ab_user on ab_user.id = ab_user_role.user_id "
            "where ab_user.username = ?",
            (username,),
        ).fetchone()


def test_filter_characters_in_a_user_name_are_escaped(
    deployment: Deployment, directory: Slapd
) -> None:
    # Unescaped, `al*` would be a wildcard finding alice, and her password would open it.
    assert _login(deployment, "al*", PASSWORDS["alice"], "127.0.0.6").status_code == 401
    assert _login(deployment, "*", PASSWORDS["alice"], "127.0.0.6").status_code == 401
    assert _login(deployment, "alice)(uid=*", PASSWORDS["alice"], "127.0.0.6").status_code == 401
    # A real name with such characters logs in, as itself.
    accepted = _login(deployment, "o(brien)", PASSWORDS["o(brien)"], "127.0.0.6")
    assert accepted.status_code == 200, accepted.text
    assert _roles(deployment, accepted.json()["access_token"]) == {"Viewer sales"}


def test_local_accounts_do_not_log_in_but_the_sync_still_does(
    deployment: Deployment, directory: Slapd
) -> None:
    local = _login(deployment, "viewer_sales", deployment.password("viewer_sales"), "127.0.0.7")
    assert local.status_code == 401
    assert "Superset sync:" in deployment.rempart("superset", "sync")
