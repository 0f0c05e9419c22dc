#!/usr/bin/env bash
# The Debian packages the checks need beyond Python: Chromium and its driver for the browser
# tests of the dashboards (Playwright drives this system browser; nothing is downloaded),
# fonts for readable screenshots, OpenLDAP's server and tools for the directory login
# tests (each test starts its own slapd in a temporary folder), Prometheus for its
# promtool, which checks the metrics and the alert rules, Docker Compose (the Python one,
# which validates deploy/compose.yaml without an engine) and Caddy, the TLS proxy the tests
# put in front of Superset, and Tesseract, which reads the watermark of downloaded images.
# Installed when missing and allowed
# (root, or `sudo -n`); otherwise this stops at once with the exact command to run.
set -euo pipefail
packages=(chromium chromium-driver fonts-dejavu-core slapd ldap-utils prometheus docker-compose caddy tesseract-ocr)

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

# Debian starts a system-wide slapd, Prometheus and Caddy (on every address) on install; the tests
# only need the programs, and this machine no service it did not ask for: a policy-rc.d
# keeps them from starting (unless one is already there), systemd is told to leave them off.
install="apt-get install -y -qq --no-install-recommends ${missing[*]}"
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    install="printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && { $install; status=\$?; rm -f /usr/sbin/policy-rc.d; exit \$status; }"
fi
command="apt-get update -qq && ( $install )"
for service in slapd prometheus caddy; do
    if [[ " ${missing[*]} " == *" $service "* ]] && command -v systemctl >/dev/null 2>&1; then
        command+=" && { systemctl disable --now $service 2>/dev/null || true; }"
    fi
done
if [[ $(id -u) -eq 0 ]]; then
    run=(bash -c)
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    run=(sudo -n env DEBIAN_FRONTEND=noninteractive bash -c)
else
    echo "make test needs ${missing[*]}: run   sudo bash tests/system_packages.sh   then make test again" >&2
    exit 1
fi
echo "==> installing ${missing[*]}"
DEBIAN_FRONTEND=noninteractive "${run[@]}" "$command"
