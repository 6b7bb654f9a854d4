#!/usr/bin/env bash
# Install everything the test suite needs (Debian and Python packages) and run it.
# Safe to run again; as root on a fresh Debian machine with Python 3.11.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests drive for real. None are needed by the investigation
# tests yet; later suites (probes: chrony, faketime, krb5; HTML report: chromium)
# add theirs here, so that CI and a new machine install the same things.
APT_PACKAGES=()
if [ ${#APT_PACKAGES[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${APT_PACKAGES[@]}"
  fi
fi

python3 -m pip install -q --disable-pip-version-check -e '.[test]'
exec python3 -m pytest -q "$@"
