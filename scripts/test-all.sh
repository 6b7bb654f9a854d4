#!/usr/bin/env bash
# Install everything the test suite needs (Debian and Python packages) and run it.
# Safe to run again; as root on a fresh Debian machine with Python 3.11.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests drive for real, so that CI and a new machine install the
# same things. probe: chrony (a real NTP server), faketime (its clock five hours off),
# exim4-daemon-light (an MTA whose banner carries its clock), openssl (a TLS test
# certificate). Later suites (krb5; HTML report: chromium) add theirs here.
APT_PACKAGES=(chrony faketime exim4-daemon-light openssl)
if [ ${#APT_PACKAGES[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${APT_PACKAGES[@]}"
  fi
fi

python3 -m pip install -q --disable-pip-version-check -e '.[test]'
exec python3 -m pytest -q "$@"
