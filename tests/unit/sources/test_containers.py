"""Container logs as a node keeps them: kubelet's CRI files and Docker's json-file.

Texts: the CRI line of a kube-apiserver as issue 19 quotes it (klog inside, its header
as k8s.io/klog writes it); Docker's json-file line as Docker's "JSON File logging
driver" page shows it.
"""

from __future__ import annotations

import json
from pathlib import Path

import skewsleuth
from skewsleuth import sources
from skewsleuth.sources import containers
from skewsleuth.sources.base import FileContext

from datetime import datetime, timezone

UTC = timezone.utc

CRI = ["2025-05-20T08:00:07.215798Z stderr F I0520 08:00:07.215798       1 server.go:148] Version: v1.29.0",
       "2025-05-20T08:00:07.500112Z stderr P W0520 08:00:07.500000       1 genericapiserver.go:744] Skipping API ",
       "2025-05-20T08:00:07.500130Z stderr F apps/v1beta2 because it has no resources.",
       "2025-05-20T08:00:09.100000Z stdout F {\"level\":\"info\",\"msg\":\"serving\"}"]
DOCKER = ['{"log":"Log line is here\\n","stream":"stdout","time":"2019-01-01T11:11:11.111111111Z"}',
          '{"log":"a long line the daemon cut ","stream":"stderr","time":"2019-01-01T11:11:12.000000001Z"}',
          '{"log":"and its end\\r\\n","stream":"stderr","time":"2019-01-01T11:11:12.000000002Z"}']
POD = "kube-system_kube-apiserver-{node}_6ba7b810-9dad-11d1-80b4-00c04fd430c8"


def _read(path: Path) -> tuple[list[dict], FileContext]:
    ctx = FileContext(path, 0, "node1", UTC)
    rows = [r for b in containers.read(ctx) for r in b.to_pylist()]
    for r in rows:
        r["data"] = json.loads(r["data"])
    return rows, ctx


def test_cri_and_docker_lines_are_read_as_container_logs_and_nothing_else_is():
    # (syslog's ISO shape and the text reader would take a CRI line: the container
    # reader is asked first)
    for lines in (CRI, DOCKER):
        assert sources.sniff(("\n".join(lines) + "\n").encode()) == "container"
    others = ["2026-11-30T08:00:00.000000+00:00 deb1 systemd-timesyncd[480]: Initial synchronization to time server",
              '{"time": "2026-11-30T08:00:00Z", "level": "info", "msg": "started", "log": "x"}',
              "2015-07-29 17:41:44,747 - INFO  [main:QuorumPeer@1] - Notification time out: 3200"]
    for line in others:
        assert not containers.sniff((line + "\n" + line + "\n").encode()), line


def test_a_cri_file_joins_partial_lines_and_reads_klog_inside(tmp_path):
    path = tmp_path / "pods" / POD.format(node="cp1") / "kube-apiserver" / "0.log"
    path.parent.mkdir(parents=True)
    path.write_bytes(("\r\n".join(CRI) + "\r\n").encode())
    rows, ctx = _read(path)
    assert [r["message"] for r in rows] == [
        "I0520 08:00:07.215798       1 server.go:148] Version: v1.29.0",
        "W0520 08:00:07.500000       1 genericapiserver.go:744] Skipping API apps/v1beta2 because it has no resources.",
        '{"level":"info","msg":"serving"}']
    assert rows[1]["logged"] == datetime(2025, 5, 20, 8, 0, 7, 500130, tzinfo=UTC)   # the whole line's
    assert [r["provider"] for r in rows] == ["server.go", "genericapiserver.go", None]
    assert rows[1]["data"] == {"stream": "stderr", "namespace": "kube-system", "pod": "kube-apiserver-cp1",
                               "container": "kube-apiserver", "shape": "klog", "level": "WARNING"}
    assert [r["channel"] for r in rows] == ["stderr", "stderr", "stdout"] and not ctx.quarantined


def test_a_docker_json_file_joins_the_parts_the_daemon_cut(tmp_path):
    path = tmp_path / "abc-json.log"
    path.write_text("\n".join(DOCKER) + "\n")
    rows, ctx = _read(path)
    assert [(r["message"], r["channel"]) for r in rows] == [("Log line is here", "stdout"),
                                                           ("a long line the daemon cut and its end", "stderr")]
    assert rows[0]["logged"] == datetime(2019, 1, 1, 11, 11, 11, 111111, tzinfo=UTC)


def test_bad_lines_and_a_cut_last_line_are_quarantined_with_reasons(tmp_path):
    path = tmp_path / "0.log"
    path.write_text("\n".join([CRI[0], "not a runtime line", "2025-02-30T08:00:00Z stdout F no such day",
                               CRI[1]]) + "\n")
    rows, ctx = _read(path)
    assert len(rows) == 1
    assert [q.reason for q in ctx.quarantined] == [
        "not a CRI log line (time stream F|P line)", "a time that does not exist",
        "the file ends inside a line the runtime cut (its last part is missing)"]


def test_three_control_plane_nodes_stay_three_hosts(tmp_path):
    """Issue 19: the stream name became the host and three nodes merged into one."""
    for node in ("cp1", "cp2", "cp3"):
        path = tmp_path / node / "var" / "log" / "pods" / POD.format(node=node) / "kube-apiserver" / "0.log"
        path.parent.mkdir(parents=True)
        path.write_text("\n".join(CRI) + "\n")
    v = skewsleuth.investigate([tmp_path])
    hosts = sorted(h for (h,) in v.store.con.execute("SELECT DISTINCT host FROM events").fetchall())
    assert hosts == ["cp1", "cp2", "cp3"]
    assert v.to_dict()["ingest"]["quarantined"] == 0


def test_a_json_loggers_line_is_read_as_applog_reads_it(tmp_path):
    """A Node service (pino) in a pod: its line's message, its request id and its err
    (pino-std-serializers) are kept as a JSON log's; the time is the runtime's."""
    pino = ('{"level":50,"time":1747728007215,"pid":1,"hostname":"api-7d9f","req":{"id":"req-42","method":"GET"},'
            '"err":{"type":"NotBeforeError","message":"jwt not active","stack":"NotBeforeError: jwt not active\\n'
            '    at /srv/api/node_modules/jsonwebtoken/verify.js:180:21","date":"2025-05-20T08:10:07.000Z"},'
            '"msg":"jwt not active"}')
    path = tmp_path / "api-json.log"
    path.write_text(json.dumps({"log": pino + "\n", "stream": "stdout", "time": "2025-05-20T08:00:07.300000Z"}) + "\n")
    rows, ctx = _read(path)
    (r,) = rows
    assert r["message"] == "jwt not active" and r["logged"] == datetime(2025, 5, 20, 8, 0, 7, 300000, tzinfo=UTC)
    assert r["data"]["fields"]["req.id"] == "req-42" and r["data"]["corr"]["request_id"] == "req-42"
    assert r["data"]["fields"]["err.type"] == "NotBeforeError" and r["data"]["stream"] == "stdout"
    assert r["host"] == "node1" and not ctx.quarantined
    # ... and a rule reads it as it reads an application log's
    (tmp_path / "node1").mkdir()
    path.rename(tmp_path / "node1" / "api-json.log")
    v = skewsleuth.investigate([tmp_path / "node1"]).to_dict()
    assert [i["signatures"] for i in v["incidents"]] == [["JWT_LIFETIME_INVALID"]]
