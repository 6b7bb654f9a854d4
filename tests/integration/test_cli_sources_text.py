"""Text sources: SIPStack traces, syslog (RFC 3164 / 5424 / krb5kdc), journald JSON: the
part that runs the command line, a real daemon or another process (the rest is in
tests/unit/sources/test_text.py).
"""

from __future__ import annotations

from datetime import datetime, timezone


from synth.syslog import (rfc3164_line, rfc5424_line)


UTC = timezone.utc


def test_the_verdict_says_when_a_year_was_taken_from_the_files_modification_time(tmp_path):
    import json
    import os

    from conftest import run_cli

    host = tmp_path / "ev" / "kdc01"
    host.mkdir(parents=True)
    (host / "messages").write_text(
        "\n".join(rfc3164_line(datetime(2014, 10, 20, 18, 0, i), "kdc01", "app", 1, "x") for i in range(3)) + "\n")
    os.utime(host / "messages", (datetime(2015, 6, 1, tzinfo=UTC).timestamp(),) * 2)
    (host / "syslog5424").write_text(rfc5424_line(datetime(2015, 1, 2, tzinfo=UTC), "kdc01", "app", 1, "y") + "\n")
    r = run_cli("investigate", str(tmp_path / "ev"), "--json", "-", "--timezone", "UTC")
    assert r.returncode == 0, r.stderr
    notes = json.loads(r.stdout)["notes"]
    assert [n for n in notes if "no year" in n] == [
        "messages: RFC 3164 times carry no year; the file's newest line was taken to be in 2015 "
        "(the file's modification year) and years counted back from it"]
