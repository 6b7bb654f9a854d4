"""Offsets that failure messages state, as constraints of the clock model
(:mod:`skewsleuth.clock.measured`).

Message texts: S3's RequestTimeTooSkewed document (aws/aws-sdk-php issue 612,
versity/versitygw issue 1514), AWS's "Signature expired" (aws/aws-cli issue
6676), etcd's prober warnings (etcd rafthttp/probing_status.go, pkg/probing/status.go;
etcd-io/etcd issue 5938), ntpdate's "adjust time server" (ntpdate/ntpdate.c) and
ntpd's "time correction of ... exceeds sanity limit" (ntpd/ntp_loopfilter.c).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from synth.measured import etcd_collection, s3_collection
from synth.syslog import rfc3164_line

import skewsleuth
from skewsleuth.clock.measured import BUILTIN, _go_seconds
from skewsleuth.errors import RuleError
from skewsleuth.rules import load_rules

UTC = timezone.utc


def _segments(verdict: dict, host: str) -> list[dict]:
    return next(h for h in verdict["hosts"] if h["host"].split(".")[0] == host.split(".")[0])["segments"]


@pytest.fixture(scope="module", params=[1200.0, -1500.0], ids=["ahead", "behind"])
def s3(tmp_path_factory, request):
    truth = s3_collection(tmp_path_factory.mktemp("s3"), offset_s=request.param)
    return truth, skewsleuth.investigate([truth.root])


def test_s3_errors_alone_give_the_client_its_offset_within_the_printed_seconds(s3):
    truth, v = s3
    offset = truth.offsets["api01.corp.example"]
    (seg,) = _segments(v.to_dict(), "api01")
    assert seg["offset_low_s"] <= offset <= seg["offset_high_s"]
    # whole seconds printed on both sides, and a second allowed for S3's own clock
    assert seg["offset_high_s"] - seg["offset_low_s"] <= 4.5
    assert seg["basis"] == ["measured"]
    # the healthy host keeps its own evidence, within its sync reports' accuracy
    assert all(abs(s["offset_s"]) <= 2 and s["basis"] == ["sync"] for s in _segments(v.to_dict(), "web01"))


def test_s3_the_verdict_puts_the_onset_in_true_time_and_names_the_offset(s3):
    truth, v = s3
    offset = truth.offsets["api01.corp.example"]
    (inc,) = v.to_dict()["incidents"]
    onset = datetime.fromisoformat(inc["onset"].replace("Z", "+00:00"))
    assert abs((onset - truth.first_failure).total_seconds()) < 3
    rc = inc["root_causes"][0]
    assert rc["host"] == "api01.corp.example" and rc["offset_s"] == pytest.approx(offset, abs=2.5)
    assert not any("either way" in e or "bounds by how much" in e for e in rc["evidence"])
    assert not any(r["host"].startswith("web01") for r in inc["root_causes"])
    said = [e for e in rc["evidence"] if e.startswith("S3 RequestTimeTooSkewed")]
    side = "ahead of" if offset > 0 else "behind"
    assert said and "RequestTime 2026" in said[0] and "ServerTime 2026" in said[0] and f"{side} true time" in said[0]


def test_both_aws_shapes_are_read_and_the_ordinary_failures_are_not(s3):
    truth, v = s3
    text = "".join(p.read_text() for p in truth.root.rglob("*") if p.is_file())
    rows = dict(v.store.con.execute("SELECT shape, count(*) FROM _measurements GROUP BY 1").fetchall())
    assert rows == {"S3 RequestTimeTooSkewed": text.count("<ServerTime>"),
                    "AWS Signature expired": text.count("Signature expired:")}
    assert min(rows.values()) > 20


@pytest.mark.parametrize("legacy", [False, True])
def test_etcd_the_member_ahead_is_the_one_with_the_offset(tmp_path, legacy):
    truth = etcd_collection(tmp_path / "etcd", ahead="etcd2", offset_s=7.5, legacy=legacy)
    v = skewsleuth.investigate([truth.root]).to_dict()
    (ahead,) = _segments(v, "etcd2")
    assert ahead["offset_low_s"] <= 7.5 <= ahead["offset_high_s"] and ahead["offset_low_s"] > 4
    assert "measured" in ahead["basis"]
    for other in ("etcd1", "etcd3"):
        assert all(abs(s["offset_s"]) <= 2 for s in _segments(v, other))
    (inc,) = v["incidents"]
    assert inc["root_causes"][0]["host"].startswith("etcd2") and inc["root_causes"][0]["offset_s"] > 4


def test_etcd_a_member_id_no_log_claims_measures_nothing(tmp_path):
    truth = etcd_collection(tmp_path / "etcd", ahead="etcd2")
    # without etcd3's own log nobody says which host 'fd422379fda50e48' is
    for f in (truth.root / "etcd3.corp.example").iterdir():
        f.unlink()
    v = skewsleuth.investigate([truth.root])
    others = {r[0] for r in v.store.con.execute("SELECT DISTINCT other_host FROM _measurements").fetchall()}
    assert others == {"etcd1.corp.example"}
    (note,) = [n for n in v.notes if "fd422379fda50e48" in n]
    lines = (truth.root / "etcd2.corp.example" / "etcd.log").read_text().count('"remote-peer-id": "fd422379fda50e48"')
    assert note.startswith(f"{lines} etcd prober clock drift records not used: the clock measured against")


def test_go_durations_as_etcd_prints_them():
    import duckdb
    con = duckdb.connect()
    got = [con.execute(f"SELECT {_go_seconds('?')}", [d]).fetchall()[0][0]
           for d in ("8h59m59.161586822s", "1m29.239296422s", "502.906µs", "15.900899ms", "1.123978766s")]
    assert got == pytest.approx([32399.161586822, 89.239296422, 502.906e-6, 0.015900899, 1.123978766])


def test_ntpdate_adjusting_against_a_host_of_the_collection_bounds_the_difference(tmp_path):
    t0 = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)
    root = tmp_path / "ev"
    (root / "app07").mkdir(parents=True)
    (root / "ntp1").mkdir()
    lines = [rfc3164_line(t0 + timedelta(seconds=-0.4 + 60 * k), "app07", "ntpdate", 300 + k,
                          "adjust time server 10.0.0.1 offset 0.402117 sec") for k in range(3)]
    lines.insert(1, rfc3164_line(t0 + timedelta(seconds=20), "app07", "ntpdate", 299,
                                 "no server suitable for synchronization found"))
    (root / "app07" / "syslog").write_bytes(("\r\n".join(lines) + "\r\n").encode())
    (root / "ntp1" / "syslog").write_text("\n".join(rfc3164_line(t0 + timedelta(minutes=k), "ntp1", "chronyd", 5,
                                                                 "Selected source 192.0.2.7") for k in range(5)))
    (root / "case.yml").write_text("hosts:\n  ntp1: [10.0.0.1]\nreferences: [ntp1]\nreference_accuracy_s: 0.01\n")
    v = skewsleuth.investigate([root]).to_dict()
    (seg,) = _segments(v, "app07")
    # ntpdate's offset is the server's clock less this one's: app07 is 0.4 s behind
    assert seg["offset_low_s"] <= -0.4 <= seg["offset_high_s"] and seg["offset_high_s"] < 0.2


NTPD_RULE = """\
title: ntpd refused a correction beyond its panic threshold
id: 3f0b7d0e-4a52-4b53-9f57-2f6f1c0a9e11
logsource: {product: ntp}
detection:
  selection:
    Message|contains: exceeds sanity limit
  condition: selection
skewsleuth:
  measure:
    captures:
      offset: 'time correction of ([-+]?[0-9]+) seconds exceeds sanity limit'
    other: true_time
    direction: other_ahead
    error_s: 1
  signature: NTPD_PANIC
  protocol: ntp
  tolerance_s: 1000
  role: clock_evidence
"""


def test_a_rule_declares_a_new_shape_with_measure(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "ntpd-panic.yml").write_text(NTPD_RULE)
    (rule,) = [r for r in load_rules([rules]) if r.signature == "NTPD_PANIC"]
    assert rule.measure[0].other == "true_time" and rule.measure[0].names == ("offset",)
    t0 = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
    (tmp_path / "ev" / "db02").mkdir(parents=True)
    # db02 is 5 h behind: ntpd would correct it by +18000 s
    behind = [rfc3164_line(t0 - timedelta(hours=5) + timedelta(minutes=k), "db02", "ntpd", 811,
                           "time correction of 18000 seconds exceeds sanity limit (1000); set clock manually "
                           "to the correct UTC time.") for k in range(0, 30, 10)]
    behind.insert(1, rfc3164_line(t0 - timedelta(hours=5, seconds=-30), "db02", "ntpd", 811,
                                  "Listen normally on 2 lo 127.0.0.1:123"))
    (tmp_path / "ev" / "db02" / "syslog").write_bytes(("\r\n".join(behind) + "\r\n").encode())
    without = _segments(skewsleuth.investigate([tmp_path / "ev"]).to_dict(), "db02")
    assert without[0]["offset_s"] is None
    (seg,) = _segments(skewsleuth.investigate([tmp_path / "ev"], rules=[rules]).to_dict(), "db02")
    assert seg["offset_low_s"] <= -18000 <= seg["offset_high_s"] and seg["offset_high_s"] - seg["offset_low_s"] <= 2


@pytest.mark.parametrize("measure, message", [
    ("{captures: {offset: 'time correction of [0-9]+ seconds'}}", "needs exactly one capture group"),
    ("{captures: {offset: '(?=x)([0-9]+)'}}", "bad measure pattern"),
    ("{captures: {skew: '([0-9]+)'}}", "unknown capture 'skew'"),
    ("{captures: {offset: '([0-9]+)'}, other: peer}", "needs a 'peer' capture"),
    ("{captures: {self_time: '(x)'}}", "either self_time and other_time"),
    ("{captures: {other_time: '(x)'}}", "other_time alone with order: other_first"),
    ("[1, 2]", "a measure entry is a mapping"),
    ("{captures: {self_time: '(x)', other_time: '(y)'}, time_formats: '%Y %Q'}", "bad measure time_formats"),
    ("{captures: {offset: '([0-9]+)'}, unit: minutes}", "measure.unit must be one of"),
])
def test_a_bad_measure_block_is_a_one_line_rule_error(tmp_path, measure, message):
    rules = tmp_path / "rules"
    rules.mkdir()
    text = NTPD_RULE.replace(NTPD_RULE[NTPD_RULE.index("  measure:"):NTPD_RULE.index("  signature:")],
                             f"  measure: {measure}\n")
    (rules / "bad.yml").write_text(text)
    with pytest.raises(RuleError) as err:
        load_rules([rules])
    assert message in str(err.value) and "\n" not in str(err.value) and "bad.yml" in str(err.value)


def test_every_builtin_shape_cites_its_source():
    assert all(s.source for s in BUILTIN)
    assert {s.name for s in BUILTIN} >= {"S3 RequestTimeTooSkewed", "AWS Signature expired",
                                         "etcd prober clock drift", "etcd clock difference"}


def test_the_docs_example_rule_loads(tmp_path):
    usage = (Path(__file__).parents[3] / "docs" / "usage.md").read_text(encoding="utf-8")
    block = usage[usage.index("```yaml\ntitle: ntpd refused"):]
    block = block[len("```yaml\n"):block.index("```", 8)]
    (tmp_path / "r.yml").write_text(block)
    (rule,) = [r for r in load_rules([tmp_path], builtin=False)]
    assert rule.measure and rule.measure[0].direction == "other_ahead"


@pytest.mark.parametrize("text, expected", [
    ("20250901T162148Z", "2025-09-01 16:21:48"),                 # SigV4 X-Amz-Date (versitygw issue 1514)
    ("Tue, 31 Jul 2018 07:40:44 GMT", "2018-07-31 07:40:44"),    # SigV2 Date, as S3 echoes it
    ("2022-09-04T07:11:33.000Z", "2022-09-04 07:11:33"),         # Aliyun OSS
    ("2015-06-04T22:26:16Z", "2015-06-04 22:26:16"),             # S3's ServerTime
])
def test_the_times_s3_and_its_imitators_print(text, expected):
    import duckdb
    from skewsleuth.clock.measured import TIME_FORMATS, _time_sql
    us = duckdb.connect().execute(f"SELECT {_time_sql('t', TIME_FORMATS)} FROM (SELECT ? AS t)", [text]).fetchall()[0][0]
    assert datetime.fromtimestamp(us / 1e6, UTC) == datetime.fromisoformat(expected).replace(tzinfo=UTC)


JWT_RULE = """\
title: token not yet valid, with the issuer our API logs beside it
id: 0e9b6f43-51a4-4bd1-8c1c-6a1d9a4d2b7e
logsource: {product: payments}
detection:
  selection:
    Message|contains: 'IDX10222:'
  condition: selection
skewsleuth:
  measure:
    # .NET IdentityModel IDX10222 (AzureAD/azure-activedirectory-identitymodel-extensions-for-dotnet
    # issue 1658): ValidFrom is the token's nbf, read on the issuer's clock when it
    # issued it; Current time the validator's clock after that
    captures:
      self_time: "Current time: '([^']+)'"
      other_time: "ValidFrom: '([^']+)'"
      peer: '"issuer"\\s*:\\s*"https://([^/"]+)'
    other: peer
    order: other_first
    time_formats: ['%m/%d/%Y %H:%M:%S']
  signature: JWT_NBF_WITH_ISSUER
  protocol: oauth
  tolerance_s: 300
"""


def test_a_token_issued_ahead_bounds_the_issuer_from_below_only(tmp_path):
    import json
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "jwt.yml").write_text(JWT_RULE)
    t0 = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    root = tmp_path / "ev"
    for h in ("api01", "auth01"):
        (root / h).mkdir(parents=True)
    ahead = 600.0
    lines = []
    for k in range(6):
        issued = t0 + timedelta(minutes=k)                       # true time auth01 issued it
        checked = issued + timedelta(seconds=0.8)                # ... and api01 checked it
        nbf = (issued + timedelta(seconds=ahead)).strftime("%m/%d/%Y %H:%M:%S")
        now = checked.strftime("%m/%d/%Y %H:%M:%S")
        lines.append(json.dumps({"@timestamp": checked.isoformat(), "level": "Information", "issuer":
                                 "https://auth01/realms/corp", "message": "Bearer was not authenticated. Failure "
                                 "message: IDX10222: Lifetime validation failed. The token is not yet valid. "
                                 f"ValidFrom: '{nbf}', Current time: '{now}'."}))
    (root / "api01" / "app.json").write_bytes(("\r\n".join(lines) + "\r\n").encode())
    (root / "api01" / "syslog").write_text("\n".join(rfc3164_line(t0 + timedelta(minutes=k), "api01", "chronyd", 5,
                                                                   "Selected source 10.0.0.1") for k in range(6)))
    (root / "auth01" / "syslog").write_text("\n".join(
        rfc3164_line(t0 + timedelta(minutes=k, seconds=ahead + 7), "auth01", "sshd", 90 + k,
                     "Accepted publickey for deploy from 10.0.0.9 port 51515 ssh2") for k in range(6)))
    v = skewsleuth.investigate([root], rules=[rules]).to_dict()
    (seg,) = _segments(v, "auth01")
    # nbf is at most the issuer's clock at issue: ahead by at least nbf - now, and by how
    # much more the message cannot say
    assert ahead - 4 <= seg["offset_low_s"] <= ahead and seg["offset_high_s"] is None
    assert all(abs(s["offset_s"]) <= 2 for s in _segments(v, "api01"))


def test_a_stripchart_against_the_pool_bounds_the_host_against_true_time(tmp_path):
    """w32tm /stripchart's o: is the target's clock less this host's: a host 30 s
    ahead of 0.pool.ntp.org reads o:-30. A public time service is taken as true time
    (within a second); a target that is no host of the collection measures nothing."""
    root = tmp_path / "ev"
    (root / "app07").mkdir(parents=True)
    t0 = datetime(2026, 12, 3, 7, 0, 30, tzinfo=UTC)
    lines = ["Tracking 0.pool.ntp.org [162.159.200.1:123].", "Collecting 3 samples.",
             f"The current time is 12/3/2026 {t0:%I:%M:%S %p}."]
    lines += [f"{t0 + timedelta(seconds=2 * k):%H:%M:%S}, d:+00.0213000s o:-30.00{k}0000s  [*  |  ]"
              for k in range(3)]
    lines += ["Tracking fs01.corp.test [10.0.0.9:123].", "Collecting 1 samples.",
              f"The current time is 12/3/2026 {t0:%I:%M:%S %p}.", f"{t0:%H:%M:%S}, d:+00.0004000s o:+00.1000000s"]
    (root / "app07" / "stripchart.txt").write_bytes(b"\xff\xfe" + "\r\n".join(lines).encode("utf-16-le"))
    (root / "app07" / "syslog").write_text("\n".join(
        rfc3164_line(t0 + timedelta(minutes=k), "app07", "sshd", 400 + k, "Accepted publickey for deploy")
        for k in range(-5, 5)) + "\n")
    (root / "case.yml").write_text("timezone: UTC\n")
    v = skewsleuth.investigate([root]).to_dict()
    (seg,) = _segments(v, "app07")
    assert 28.5 < seg["offset_low_s"] <= 30.0 <= seg["offset_high_s"] < 31.5, seg
    assert any("1 w32tm stripchart record not used" in n and "fs01.corp.test" in n for n in v["notes"]), v["notes"]


@pytest.mark.parametrize("shape, message, data, hi", [
    # IdentityModel 6.x and 5.x wordings (LogMessages.IDX10222; the 5.x one as issue 1658
    # quotes it, without the comma IDX10223's issue 1860 shows)
    ("IDX10222 token not yet valid", "IDX10222: Lifetime validation failed. The token is not yet valid. ValidFrom "
     "(UTC): '11/30/2026 09:41:43', Current time (UTC): '11/30/2026 09:31:43'.", None, -599.0),
    ("IDX10222 token not yet valid", "IDX10222: Lifetime validation failed. The token is not yet valid. ValidFrom: "
     "'11/30/2026 09:41:43' Current time: '11/30/2026 09:31:44'.", None, -598.0),
    ("jjwt PrematureJwtException", "io.jsonwebtoken.PrematureJwtException: JWT must not be accepted before "
     "2026-11-30T09:41:30Z. Current time: 2026-11-30T09:31:30Z, a difference of 600000 milliseconds.  Allowed clock "
     "skew: 0 milliseconds.", None, -599.0),
    # the record's own time (09:31:43.5) stands in for the validator's
    ("jsonwebtoken NotBeforeError", "jwt not active",
     '{"err": {"type": "NotBeforeError", "message": "jwt not active", "date": "2026-11-30T09:41:43.000Z"}}', -598.5),
    # ... and as applog keeps a pino record's nested err (by its dotted path)
    ("jsonwebtoken NotBeforeError", "jwt not active",
     '{"fields": {"err.type": "NotBeforeError", "err.date": "2026-11-30T09:41:43.000Z"}}', -598.5),
])
def test_token_validators_bound_the_unnamed_issuer_from_below(shape, message, data, hi):
    import duckdb
    from skewsleuth.clock.measured import _shape_sql
    con = duckdb.connect()
    con.execute("CREATE TABLE events AS SELECT 1 AS file_id, 1 AS record_no, 'api01' AS host, "
                "TIMESTAMPTZ '2026-11-30 09:31:43.5+00' AS logged, CAST(? AS VARCHAR) AS message, "
                "CAST(? AS VARCHAR) AS data", [message, data])
    k, sh = next((k, s) for k, s in enumerate(BUILTIN) if s.name == shape)
    assert sh.other == "unnamed" and sh.order == "other_first"
    sql, params = _shape_sql(sh, k)
    ((lo, got),) = con.execute(f"SELECT lo_s, hi_s FROM ({sql})", params).fetchall()
    # o[api01] - o[issuer] <= hi: the issuer is at least -hi ahead
    assert lo == float("-inf") and got == pytest.approx(hi)


def test_a_hidden_value_measures_nothing():
    import duckdb
    from skewsleuth.clock.measured import _shape_sql
    con = duckdb.connect()
    con.execute("CREATE TABLE events AS SELECT 1 AS file_id, 1 AS record_no, 'api01' AS host, "
                "TIMESTAMPTZ '2026-11-30 09:31:43+00' AS logged, CAST(? AS VARCHAR) AS message, "
                "CAST(NULL AS VARCHAR) AS data",
                ["IDX10222: Lifetime validation failed. The token is not yet valid. ValidFrom (UTC): '[PII of type "
                 "'System.DateTime' is hidden. For more details, see https://aka.ms/IdentityModel/PII.]', Current "
                 "time (UTC): '[PII of type 'System.DateTime' is hidden.]'."])
    k, sh = next((k, s) for k, s in enumerate(BUILTIN) if s.name == "IDX10222 token not yet valid")
    sql, params = _shape_sql(sh, k)
    assert con.execute(f"SELECT count(*) FROM ({sql}) WHERE hi_s IS NOT NULL", params).fetchall() == [(0,)]


def test_ceph_prints_the_size_of_a_monitors_skew_and_the_verdict_says_either_way(tmp_path):
    """The leader monitor (ceph01) logs, through ceph-mon's cluster channel, that
    mon.ceph02's clock is 0.512 s off its own, without a sign (Monitor prints
    abs_skew). The verdict gives the size, "ahead or behind", not a direction."""
    t0 = datetime(2026, 11, 30, 9, 40, tzinfo=UTC)
    root = tmp_path / "ev"
    for h in ("ceph01", "ceph02"):
        (root / h).mkdir(parents=True)
    lines = [rfc3164_line(t0 + timedelta(minutes=5 * k), "ceph01", "ceph-mon", 1187,
                          f"{t0 + timedelta(minutes=5 * k):%Y-%m-%dT%H:%M:%S}.123+0000 7f3a8c5f9700  0 "
                          f"log_channel(cluster) log [WRN] : mon.ceph02 clock skew 0.{512 + k}s > max 0.05s "
                          "(latency 0.001s)") for k in range(6)]
    # two days before, mon.c, by address
    lines.insert(0, rfc3164_line(t0 - timedelta(days=2), "ceph01", "ceph-mon", 1187,
                              "2026-11-28T09:40:00.000+0000 7f3a8c5f9700  0 log_channel(cluster) log [WRN] : "
                              "mon.c addr 10.10.0.1:6789/0 clock skew 0.08235s > max 0.05s (latency 0.0045s)"))
    (root / "ceph01" / "syslog").write_text("\n".join(lines) + "\n")
    (root / "ceph02" / "syslog").write_text("\n".join(
        rfc3164_line(t0 + timedelta(minutes=k), "ceph02", "sshd", 700 + k, "Accepted publickey for ceph")
        for k in range(30)) + "\n")
    (root / "case.yml").write_text("timezone: UTC\n")
    v = skewsleuth.investigate([root]).to_dict()
    (c,) = [c for i in v["incidents"] for c in i["root_causes"] if c["kind"] == "clock_skew" and c["host"] == "ceph02"]
    assert c["beyond_s"] == pytest.approx(0.517 - 0.0005 - 0.01, abs=1e-6) and c["offset_s"] is None, c
    assert any("Ceph monitor clock skew" in e and "ahead or behind" in e and "0.517" in e for e in c["evidence"])
    # mon.c names no host of the collection (10.10.0.1 is no host's address): left out, said
    assert any("Ceph monitor clock skew record not used" in n and "10.10.0.1" in n for n in v["notes"]), v["notes"]


def test_a_samba_kdc_prints_the_clients_time_in_its_own_local_time(tmp_path):
    """Samba's AD DC (Heimdal's KDC) logs "Too large time skew, client time T is out
    by N > 300 seconds -- WS04$@REALM", T in the KDC's local time (Europe/Berlin here,
    as are the syslog times). ws04 is 900 s ahead: the KDC, right and synced, bounds it
    at least 899 s ahead; read as UTC, T would have been an hour off."""
    from zoneinfo import ZoneInfo
    berlin = ZoneInfo("Europe/Berlin")
    t0 = datetime(2026, 11, 30, 9, 40, tzinfo=UTC)
    root = tmp_path / "ev"
    for h in ("dc01", "ws04"):
        (root / h).mkdir(parents=True)
    dc = [rfc3164_line((t0 - timedelta(minutes=30)).astimezone(berlin), "dc01", "chronyd", 611,
                       "Selected source 10.0.9.10 (ntp1.corp.test)")]
    for k in range(6):
        sent = t0 + timedelta(minutes=10 * k)                # true time ws04 stamped its request
        client = (sent + timedelta(seconds=900)).astimezone(berlin)
        dc.append(rfc3164_line((sent + timedelta(seconds=0.02)).astimezone(berlin), "dc01", "samba", 2231,
                               f"Kerberos: Too large time skew, client time {client:%Y-%m-%dT%H:%M:%S} is out by "
                               "900 > 300 seconds -- WS04$@CORP.TEST"))
        dc.append(rfc3164_line((sent + timedelta(seconds=1)).astimezone(berlin), "dc01", "samba", 2231,
                               "Kerberos: AS-REQ WS01$@CORP.TEST from ipv4:10.0.1.21:49731 for "
                               "krbtgt/CORP.TEST@CORP.TEST"))
    (root / "dc01" / "syslog").write_text("\n".join(dc) + "\n")
    (root / "ws04" / "syslog").write_text("\n".join(
        rfc3164_line((t0 + timedelta(minutes=k, seconds=900)).astimezone(berlin), "ws04", "sshd", 700 + k,
                     "Accepted publickey for admin") for k in range(60)) + "\n")
    (root / "case.yml").write_text("timezone: Europe/Berlin\n")
    v = skewsleuth.investigate([root]).to_dict()
    (seg,) = _segments(v, "ws04")
    assert 897.0 <= seg["offset_low_s"] <= 900.0, seg
    (c,) = [c for i in v["incidents"] for c in i["root_causes"] if c["kind"] == "clock_skew"]
    assert c["host"] == "ws04" and c["offset_low_s"] >= 897.0, c
