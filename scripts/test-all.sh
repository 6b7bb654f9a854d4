#!/usr/bin/env bash
# Install everything the test suite needs (Debian and Python packages) and run it.
# Safe to run again; as root on a fresh Debian machine with Python 3.11.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests drive for real, so that CI and a new machine install the
# same things. probe: chrony (a real NTP server), faketime (its clock five hours off),
# exim4-daemon-light (an MTA whose banner carries its clock), openssl (a TLS test
# certificate). fix: openssh-server (a real sshd on 127.0.0.1 that fix --apply runs
# runbooks over; the tests start their own, never the package's service). watch:
# prometheus (a real Prometheus server scrapes watch's metrics and is queried over its
# HTTP API), prometheus-alertmanager (a real Alertmanager that watch --alertmanager
# sends alerts to, read back through its API). HTML report: chromium (Playwright drives Debian's browser headless; the
# tests never download one). Rule pack: krb5-kdc, krb5-admin-server (kadmin.local) and
# krb5-user (kinit) for a real KDC on 127.0.0.1 and a client under faketime (the tests
# start their own, never the package's service); curl and a Java runtime
# (openjdk-17-jre-headless) to read their real TLS certificate-date errors.
APT_PACKAGES=(chrony faketime exim4-daemon-light openssl openssh-server prometheus prometheus-alertmanager chromium
              krb5-kdc krb5-admin-server krb5-user curl openjdk-17-jre-headless)
if [ ${#APT_PACKAGES[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    # The tests start their own servers on 127.0.0.1; the packages' services must not
    # start: a chrony service would discipline this machine's clock. policy-rc.d (exit
    # 101) forbids service starts during the install, and is removed after.
    own_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
      own_policy=1
      trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${APT_PACKAGES[@]}"
    if [ "$own_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; trap - EXIT; fi
    if [ -d /run/systemd/system ]; then
      systemctl disable --now chrony exim4 ssh prometheus prometheus-node-exporter prometheus-alertmanager krb5-kdc krb5-admin-server >/dev/null 2>&1 || true
    fi
  fi
fi

# winrm and scale: the optional extras, so that the WinRM session tests and the Dask
# cluster tests run too.
python3 -m pip install -q --disable-pip-version-check -e '.[test,winrm,scale]'
# Timesketch's server package for the readers its upload task runs on a timeline
# (tests/integration/test_timesketch_import.py). Without its requirements: they pin some 50
# server packages (Flask, Celery, OpenSearch, SQLAlchemy...) over the ones the tests use.
python3 -m pip install -q --disable-pip-version-check --no-deps 'timesketch==20261014'
exec python3 -m pytest -q --hypothesis-profile=thorough "$@"
