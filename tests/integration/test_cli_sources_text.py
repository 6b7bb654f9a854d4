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
        "messages: RFC 3164 times carry no year; the newest line was taken to be no later than the file's "
        "modification time, 2015-06-01 00:00:00 UTC (whatever zone it was written in), so in 2014, and years "
        "counted back from it"]


def _sshd_evidence(tmp_path):
    """OpenSSH lines of Dec 10 in a file last modified on 2 December 2026."""
    import os

    host = tmp_path / "ev" / "bastion"
    host.mkdir(parents=True)
    (host / "auth.log").write_text("\n".join(
        rfc3164_line(datetime(2026, 12, 10, 8, 15, i), "bastion", "sshd", 4242, f"Accepted publickey for ops port {i}")
        for i in range(3)) + "\n")
    os.utime(host / "auth.log", (datetime(2026, 12, 2, 9, 30, tzinfo=UTC).timestamp(),) * 2)
    return tmp_path / "ev"


def test_syslog_lines_are_never_later_than_their_file_unless_year_says_so(tmp_path):
    import json

    from conftest import run_cli

    ev = _sshd_evidence(tmp_path)
    for extra, year, how in (([], "2025", "no later than the file's modification time, 2026-12-02 09:30:00 UTC"),
                             (["--year", "2026"], "2026", "in 2026 (given with --year)")):
        r = run_cli("timeline", str(ev), "--timezone", "UTC", *extra)
        assert r.returncode == 0, r.stderr
        logged = {json.loads(line)["logged"][:10] for line in r.stdout.splitlines()}
        assert logged == {f"{year}-12-10"}
        r = run_cli("investigate", str(ev), "--timezone", "UTC", "--json", "-", *extra)
        assert r.returncode == 0, r.stderr
        (note,) = [n for n in json.loads(r.stdout)["notes"] if "no year" in n]
        assert note.startswith("auth.log: RFC 3164 times carry no year; ") and how in note


def test_year_is_on_the_commands_that_read_evidence_with_an_example(tmp_path):
    from conftest import one_line_error, run_cli

    for command in ("investigate", "timeline"):
        r = run_cli(command, "--help")
        assert "--year YEAR" in r.stdout and f"skewsleuth {command} evidence/ --year 2026" in r.stdout
    ev = _sshd_evidence(tmp_path)
    assert "year 1066 is outside the years a timeline can hold" in one_line_error("investigate", str(ev), "--year", "1066")
