"""Plain text logs that start each record with a time: the shapes real software
writes, and a corpus of kinds of real logs read as a user's collection holds them.

The lines are those of loghub's public samples (logpai/loghub: Zookeeper, Hadoop,
Spark, HDFS, Apache, Android, OpenStack, Windows CBS, Linux, OpenSSH, Mac) and a
kube-apiserver's klog header (k8s.io/klog), one or two per kind.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from skewsleuth import sources
from skewsleuth.case import Case
from skewsleuth.reading.ingest import ingest
from skewsleuth.sources import textlog
from skewsleuth.sources.base import FileContext
from skewsleuth.store import Store

UTC = timezone.utc

SAMPLES = {
    "zookeeper": ["2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - "
                  "Notification time out: 3200",
                  "2015-07-29 19:04:12,394 - WARN  [RecvWorker:188978561024:QuorumCnxManager$RecvWorker@762] - "
                  "Connection broken for id 188978561024, my id = 1, error = "],
    "hadoop": ["2015-10-18 18:01:47,978 INFO [main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: Created "
               "MRAppMaster for application appattempt_1445144423722_0020_000001",
               "2015-10-18 18:01:48,963 INFO [main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: Executing with "
               "tokens:"],
    "spark": ["17/06/09 20:10:40 INFO executor.CoarseGrainedExecutorBackend: Registered signal handlers for [TERM, "
              "HUP, INT]",
              "17/06/09 20:10:41 INFO spark.SecurityManager: Changing view acls to: yarn,curi"],
    "hdfs": ["081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block "
             "blk_38865049064139660 terminating",
             "081109 203807 222 INFO dfs.DataNode$PacketResponder: PacketResponder 0 for block "
             "blk_-6952295868487656571 terminating"],
    "apache": ["[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties",
               "[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6"],
    "android": ["03-17 16:13:38.811  1702  2395 D WindowManager: printFreezingDisplayLogsopening app wtoken = "
                "AppWindowToken{9f4ef63 token=Token{a64f992 ActivityRecord{de9231d u0 com.tencent.qt.qtl/.activity."
                "info.NewsDetailXmlActivity t761}}}, allDrawn= false",
                "03-17 16:13:38.819  1702  8671 D PowerManagerService: acquire lock=233570404, flags=0x1, "
                "tag=\"View Lock\", name=com.android.systemui, ws=null, uid=10037, pid=2227"],
    "openstack": ["2017-05-16 00:00:00.008 25746 INFO nova.osapi_compute.wsgi.server "
                  "[req-38101a0b-2096-447d-96ea-a692162415ae 113d3a99c3da401fbd62cc2caa5b96d2 "
                  "54fadb412c4e40cdbaed9335e4c35a9e - - -] 10.11.10.1 \"GET /v2/54fadb412c4e40cdbaed9335e4c35a9e/"
                  "servers/detail HTTP/1.1\" status: 200 len: 1893 time: 0.2477829",
                  "2017-05-16 00:00:00.272 25746 INFO nova.osapi_compute.wsgi.server "
                  "[req-9bc36dd9-91c5-4314-898a-47625eb93b09 113d3a99c3da401fbd62cc2caa5b96d2 "
                  "54fadb412c4e40cdbaed9335e4c35a9e - - -] 10.11.10.1 \"GET /v2/54fadb412c4e40cdbaed9335e4c35a9e/"
                  "servers/detail HTTP/1.1\" status: 200 len: 1893 time: 0.2577181"],
    "windows-cbs": ["2016-09-28 04:30:30, Info                  CBS    Loaded Servicing Stack v6.1.7601.23505 with "
                    "Core: C:\\Windows\\winsxs\\amd64_microsoft-windows-servicingstack_31bf3856ad364e35_6.1.7601."
                    "23505_none_681aa442f6fed7f0\\cbscore.dll",
                    "2016-09-28 04:30:31, Info                  CSI    00000001@2016/9/27:20:30:31.455 "
                    "WcpInitialize (wcp.dll version 0.0.0.6) called (stack @0x7fed806eb5d @0x7fef9fb9b6d)"],
    "klog": ["I0520 08:00:07.215798       1 server.go:148] Version: v1.29.0",
             "W0520 08:00:07.500000       1 genericapiserver.go:744] Skipping API apps/v1beta2 because it has no "
             "resources."],
    # syslog kinds, read by the syslog source
    "linux": ["Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0 euid=0 "
              "tty=NODEVssh ruser= rhost=218.188.2.4",
              "Jun 14 15:16:02 combo sshd(pam_unix)[19937]: check pass; user unknown"],
    "openssh": ["Dec 10 06:55:46 LabSZ sshd[24200]: reverse mapping checking getaddrinfo for "
                "ns.marryaldkfaczcz.com [173.234.31.186] failed - POSSIBLE BREAK-IN ATTEMPT!",
                "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186"],
    "mac": ["Jul  1 09:00:55 calvisitor-10-105-160-95 kernel[0]: IOThunderboltSwitch<0>(0x0)::listenerCallback - "
            "Thunderbolt HPD packet for route = 0x0 port = 11 unplug = 0",
            "Jul  1 09:01:05 calvisitor-10-105-160-95 com.apple.CDScheduler[43]: Thermal pressure state: 1 Memory "
            "pressure state: 0"],
}
TEXTLOG_KINDS = ("zookeeper", "hadoop", "spark", "hdfs", "apache", "android", "openstack", "windows-cbs", "klog")


def _read(path: Path, tz=UTC) -> tuple[list[dict], FileContext]:
    ctx = FileContext(path, 0, "h1", tz, modified=datetime(2026, 12, 31, tzinfo=UTC))
    rows = [r for b in textlog.read(ctx) for r in b.to_pylist()]
    for r in rows:
        r["data"] = json.loads(r["data"])
    return rows, ctx


@pytest.mark.parametrize("kind", TEXTLOG_KINDS)
def test_each_shape_is_claimed_by_the_text_reader_alone(kind):
    for head in (("\n".join(SAMPLES[kind]) + "\n").encode(),
                 b"\xff\xfe" + ("\r\n".join(SAMPLES[kind]) + "\r\n").encode("utf-16-le")):
        assert [m.FORMAT for m in sources.MODULES if m.sniff(head)] == ["textlog"], kind


@pytest.mark.parametrize("kind, first, level", [
    ("zookeeper", datetime(2015, 7, 29, 17, 41, 44, 747000), "INFO"),
    ("hadoop", datetime(2015, 10, 18, 18, 1, 47, 978000), "INFO"),
    ("spark", datetime(2017, 6, 9, 20, 10, 40), "INFO"),
    ("hdfs", datetime(2008, 11, 9, 20, 36, 15), "INFO"),
    ("apache", datetime(2005, 12, 4, 4, 47, 44), None),
    ("android", datetime(2026, 3, 17, 16, 13, 38, 811000), "DEBUG"),
    ("openstack", datetime(2017, 5, 16, 0, 0, 0, 8000), "INFO"),
    ("windows-cbs", datetime(2016, 9, 28, 4, 30, 30), "INFO"),
    ("klog", datetime(2026, 5, 20, 8, 0, 7, 215798), "INFO"),
])
def test_each_shape_gives_the_local_time_and_the_level(tmp_path, kind, first, level):
    path = tmp_path / f"{kind}.log"
    path.write_bytes(("\r\n".join(SAMPLES[kind]) + "\r\n").encode())
    berlin = ZoneInfo("Europe/Berlin")
    rows, ctx = _read(path, berlin)
    assert len(rows) == 2 and not ctx.quarantined
    assert rows[0]["logged"] == first.replace(tzinfo=berlin).astimezone(UTC)
    assert rows[0]["data"].get("level") == level
    assert rows[0]["host"] == "h1" and "\r" not in rows[0]["message"]


def test_logcat_tag_and_klog_source_file_are_the_provider(tmp_path):
    (tmp_path / "a.log").write_text("\n".join(SAMPLES["android"]) + "\n")
    (tmp_path / "k.log").write_text("\n".join(SAMPLES["klog"]) + "\n")
    rows, _ = _read(tmp_path / "a.log")
    assert [r["provider"] for r in rows] == ["WindowManager", "PowerManagerService"]
    assert rows[0]["data"]["pid"] == 1702 and rows[0]["data"]["tid"] == 2395
    rows, ctx = _read(tmp_path / "k.log")
    assert [r["provider"] for r in rows] == ["server.go", "genericapiserver.go"]
    assert rows[1]["data"]["level"] == "WARNING"
    assert any("klog times carry no year" in n for n in ctx.notes)


def test_a_stack_trace_continues_its_record_and_a_preamble_is_quarantined(tmp_path):
    lines = ["Starting the JVM...",
             "2026-11-30 09:31:30,489 WARN  [http-nio-8080-exec-3] o.s.s.o.s.r.a.JwtAuthenticationProvider - "
             "io.jsonwebtoken.PrematureJwtException: JWT must not be accepted before 2026-11-30T09:41:30Z. Current "
             "time: 2026-11-30T09:31:30Z, a difference of 600000 milliseconds.  Allowed clock skew: 0 milliseconds.",
             "\tat io.jsonwebtoken.impl.DefaultJwtParser.parse(DefaultJwtParser.java:448)",
             "\tat io.jsonwebtoken.impl.DefaultJwtParser.parse(DefaultJwtParser.java:550)",
             "2026-11-30 09:31:31,002 INFO  [http-nio-8080-exec-4] o.a.c.c.C.[.[.[/] - request done"]
    path = tmp_path / "app.log"
    path.write_text("\n".join(lines) + "\n")
    rows, ctx = _read(path)
    assert len(rows) == 2
    assert rows[0]["message"].endswith("(DefaultJwtParser.java:550)") and rows[0]["message"].count("\n") == 2
    assert [q.reason for q in ctx.quarantined] == ["a line before the file's first timestamped record"]


def test_a_huge_continuation_is_cut_not_held(tmp_path):
    path = tmp_path / "big.log"
    path.write_text(SAMPLES["klog"][0] + "\n" + ("x" * 1000 + "\n") * 500)
    rows, _ = _read(path)
    assert len(rows) == 1 and len(rows[0]["message"]) <= textlog.MAX_MESSAGE + 1


def test_yearless_klog_across_new_year_counts_back_from_the_files_year(tmp_path):
    path = tmp_path / "k.log"
    path.write_text("I1231 23:59:59.000000       1 a.go:1] old\nI0101 00:00:01.000000       1 a.go:2] new\n")
    rows, _ = _read(path)
    assert [r["logged"].year for r in rows] == [2025, 2026]


def test_a_rule_matches_a_java_services_text_log(tmp_path):
    """A Spring service's log4j text log: jjwt's refusal is a JWT symptom."""
    import skewsleuth

    (tmp_path / "api02").mkdir()
    (tmp_path / "api02" / "app.log").write_text(
        "2026-11-30 09:31:30,489 WARN  [http-nio-8080-exec-3] o.s.s.o.s.r.a.JwtAuthenticationProvider - "
        "io.jsonwebtoken.PrematureJwtException: JWT must not be accepted before 2026-11-30T09:41:30Z. Current time: "
        "2026-11-30T09:31:30Z, a difference of 600000 milliseconds.  Allowed clock skew: 0 milliseconds.\n")
    v = skewsleuth.investigate([tmp_path]).to_dict()
    assert [i["signatures"] for i in v["incidents"]] == [["JWT_LIFETIME_INVALID"]]


def test_a_corpus_of_real_kinds_is_read_whole(tmp_path):
    """Issue 19's corpus: a dozen kinds of real logs, each in a host's folder with CRLF
    or UTF-16 as collected: every line is a record or quarantined with a reason, and
    at least 95 % of each kind's lines are records."""
    for n, (kind, lines) in enumerate(SAMPLES.items()):
        folder = tmp_path / kind / "h1"
        folder.mkdir(parents=True)
        body = [f"{lines[k % 2]} #{k}" for k in range(60)]
        body.insert(30, "\x00\x01 garbage that no software wrote")
        text = "\r\n".join(body) + "\r\n"
        path = folder / f"{kind}.log"
        path.write_bytes(b"\xff\xfe" + text.encode("utf-16-le") if n % 3 == 0 else text.encode())
        os.utime(path, (datetime(2026, 12, 31, tzinfo=UTC).timestamp(),) * 2)
        store = Store()
        summary = ingest(store, [tmp_path / kind], Case())
        assert summary.files_failed == 0, (kind, summary.failures)
        # records counts every record seen, quarantined ones included; in a text log the
        # garbage line continues the record before it, in syslog it is quarantined
        continued = 1 if kind in TEXTLOG_KINDS else 0
        assert summary.records + continued == 61 and summary.quarantined == 1 - continued, (kind, summary.as_dict())
        assert summary.records - summary.quarantined >= 0.95 * 60, (kind, summary.as_dict())
