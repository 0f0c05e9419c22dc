#!/usr/bin/env bash
# The Debian packages the checks need beyond Python: Chromium and its driver for the browser
# tests of the dashboards (Playwright drives this system browser; nothing is downloaded),
# fonts for readable screenshots, and OpenLDAP's server and tools for the directory login
# tests (each test starts its own slapd in a temporary folder). Installed when missing and allowed (root, or `sudo -n`);
# otherwise this stops at once with the exact command to run.
set -euo pipefail
packages=(chromium chromium-driver fonts-dejavu-core slapd ldap-utils)

missing=()
if command -v dpkg >/dev/null 2>&1; then
    for package in "${packages[@]}"; do
        # Removed but not purged packages keep a status entry: ask whether it is installed.
        status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
        [[ $status == "install ok installed" ]] || missing+=("$package")
    done
elif ! { command -v chromium && command -v chromedriver && command -v slapd; } >/dev/null; then
    echo "make test needs Chromium, chromedriver and slapd on PATH (Debian: ${packages[*]})" >&2
    exit 1
fi
((${#missing[@]})) || exit 0

command="apt-get update -qq && apt-get install -y -qq --no-install-recommends ${missing[*]}"
# Debian starts a system-wide slapd on install; the tests only need the program, and this
# machine no directory service it did not ask for.
if [[ " ${missing[*]} " == *" slapd "* ]] && command -v systemctl >/dev/null 2>&1; then
    command+=" && { systemctl disable --now slapd 2>/dev/null || true; }"
fi
if [[ $(id -u) -eq 0 ]]; then
    run=(bash -c)
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    run=(sudo -n env DEBIAN_FRONTEND=noninteractive bash -c)
else
    echo "make test needs ${missing[*]}: run   sudo bash -c '$command'   then make test again" >&2
    exit 1
fi
echo "==> installing ${missing[*]}"
DEBIAN_FRONTEND=noninteractive "${run[@]}" "$command"
