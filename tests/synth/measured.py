"""Collections whose only clock evidence is what failure messages state, clocks known.

* :func:`s3_collection`: a client whose clock is ahead uploads to S3 and logs every
  ``RequestTimeTooSkewed`` error document S3 sends back (a JSON application log, the
  documents as the SDKs log them, CRLF line ends), and aws-cli's "Signature expired"
  in its syslog; beside them ordinary uploads and ordinary failures
  (``SignatureDoesNotMatch`` for a wrong key, a ``SlowDown``), and a healthy host.
* :func:`etcd_collection`: three etcd members, one ahead; the one ahead logs etcd's
  prober warnings against both peers (zap JSON for etcd >= 3.4, with the 3.4 releases
  that printed ``clock-drift`` and ``rtt`` the other way round; capnslog text in
  syslog for older ones), every member its own ``local-member-id`` and raft lines.

Message texts: S3's error document as aws/aws-sdk-php issue 612 and
versity/versitygw issue 1514 quote it; AWS's "Signature expired" as aws/aws-cli
issue 6676 does; etcd's from rafthttp/probing_status.go (and the OpenShift
must-gather line in its docstring of :mod:`skewsleuth.clock.measured`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .syslog import rfc3164_line

UTC = timezone.utc


@dataclass
class Truth:
    root: Path
    offsets: dict[str, float]                  # host -> offset (logged - true), s
    first_failure: datetime | None = None      # true time of the first skew failure
    members: dict[str, str] = field(default_factory=dict)   # etcd host -> member id


def _iso_ms(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _write(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8"))


def s3_error(request_time: str, server_time: str, request_id: str = "2J8ZFVZVVRA4T7CF") -> str:
    """S3's RequestTimeTooSkewed error document, as S3 sends it (one line)."""
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>RequestTimeTooSkewed</Code><Message>The difference '
            'between the request time and the current time is too large.</Message>'
            f'<RequestTime>{request_time}</RequestTime><ServerTime>{server_time}</ServerTime>'
            '<MaxAllowedSkewMilliseconds>900000</MaxAllowedSkewMilliseconds>'
            f'<RequestId>{request_id}</RequestId><HostId>CRaDrKRM91F3Ea6WY8n+2BLxPeuJIpDDm+7fIUYY</HostId></Error>')


def s3_collection(root: Path | str, offset_s: float = 1200.0, start: datetime | None = None) -> Truth:
    """api01 (offset ``offset_s``, ahead or behind) and web01 (right, its chronyd in
    sync); api01's uploads fail from the 10th minute on, every request signed 0.3 s before S3 reads its clock and the error
    logged 0.2 s after."""
    root = Path(root)
    t0 = start or datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
    client, web = "api01.corp.example", "web01.corp.example"
    app, sys_lines, web_lines = [], [], []
    first = None
    for i in range(120):
        t = t0 + timedelta(seconds=15 * i + 0.37)          # true time S3 reads its clock
        signed, logged = t - timedelta(seconds=0.3), t + timedelta(seconds=0.2)
        on = lambda x: x + timedelta(seconds=offset_s)      # noqa: E731 - the client's clock
        if i < 40 or abs(offset_s) < 900:
            app.append(json.dumps({"timestamp": _iso_ms(on(logged)), "level": "info", "logger": "uploader",
                                   "message": f"PUT s3://backups/part-{i:04d} 200 OK"}))
        elif i % 3 == 0:
            first = first or t
            rt = on(signed).strftime("%Y%m%dT%H%M%SZ")
            if i % 2:
                st = t.strftime("%Y-%m-%dT%H:%M:%SZ")
            else:   # Aliyun OSS and some SDKs: milliseconds in both
                st = t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
            app.append(json.dumps({"timestamp": _iso_ms(on(logged)), "level": "error", "logger": "uploader",
                                   "message": "AWS HTTP error: Client error: 403 RequestTimeTooSkewed (client): The "
                                              "difference between the request time and the current time is too "
                                              "large. - " + s3_error(rt, st, f"9E09E2E8D09D{i:04d}")}))
        elif i % 3 == 1:
            first = first or t
            rt = on(signed).strftime("%Y%m%dT%H%M%SZ")
            srv = t.strftime("%Y%m%dT%H%M%SZ")
            limit = (t - timedelta(minutes=15)).strftime("%Y%m%dT%H%M%SZ")
            sys_lines.append(rfc3164_line(on(logged), "api01", "aws", 4242,
                                          "An error occurred (SignatureDoesNotMatch) when calling the "
                                          f"GetCallerIdentity operation: Signature expired: {rt} is now earlier "
                                          f"than {limit} ({srv} - 15 min.)"))
        else:
            # ordinary failures beside: no time in them
            app.append(json.dumps({"timestamp": _iso_ms(on(logged)), "level": "warning", "logger": "uploader",
                                   "message": "An error occurred (SlowDown) when calling the PutObject operation "
                                              "(reached max retries: 4): Please reduce your request rate."}))
        sys_lines.append(rfc3164_line(on(logged + timedelta(seconds=1)), "api01", "CRON", 900 + i,
                                      "(root) CMD (run-parts /etc/cron.hourly)"))
        web_lines.append(rfc3164_line(t + timedelta(seconds=2), "web01", "nginx", 77,
                                      f'10.0.0.9 - - "GET /health HTTP/1.1" 200 {i}'))
        if i % 40 == 0:   # the healthy host's chronyd says it is on time
            web_lines.append(rfc3164_line(t + timedelta(seconds=3), "web01", "chronyd", 612,
                                          "Selected source 10.0.0.1 (ntp1.corp.example)"))
    app.append(json.dumps({"timestamp": _iso_ms(t0 + timedelta(seconds=offset_s, hours=1)), "level": "error",
                           "logger": "uploader", "message": "An error occurred (SignatureDoesNotMatch) when calling "
                           "the PutObject operation: The request signature we calculated does not match the "
                           "signature you provided."}))
    _write(root / client / "uploader.json", app)
    _write(root / client / "syslog", sys_lines)
    _write(root / web / "syslog", web_lines)
    return Truth(root, {client: offset_s, web: 0.0}, first)


def _go(seconds: float) -> str:
    """A duration as Go prints it (``1m29.239296422s``, ``1.2ms``)."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:g}µs"
    if seconds < 1:
        return f"{seconds * 1e3:g}ms"
    m, s = divmod(seconds, 60)
    h, m = divmod(int(m), 60)
    out = (f"{h}h" if h else "") + (f"{m}m" if h or m else "")
    return out + f"{s:.9f}".rstrip("0").rstrip(".") + "s"


def etcd_collection(root: Path | str, ahead: str = "etcd2", offset_s: float = 7.5, legacy: bool = False,
                    start: datetime | None = None) -> Truth:
    """Three members; ``ahead`` is ``offset_s`` ahead. Its prober warns of both peers
    every 30 s (the round trip 1.5 ms, its clock read at the middle of it)."""
    root = Path(root)
    t0 = start or datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    members = {"etcd1": "8e9e05c52164694d", "etcd2": "91bc3c398fb3c146", "etcd3": "fd422379fda50e48"}
    offsets = {h: (offset_s if h == ahead else 0.0) for h in members}
    rtt = 0.0015
    for h, mid in members.items():
        lines: list[str] = []
        on = lambda x: x + timedelta(seconds=offsets[h])    # noqa: E731

        def log(t: datetime, level: str, caller: str, msg: str, **fields: str) -> None:
            if legacy:
                text = msg if not fields else msg + " " + " ".join(f"{k}={v}" for k, v in fields.items())
                lines.append(rfc3164_line(on(t), h, "etcd", 1093, text))
            else:
                lines.append(json.dumps({"level": level, "ts": _iso_ms(on(t)), "caller": caller, "msg": msg,
                                         **fields}, ensure_ascii=False))

        if legacy:
            log(t0, "info", "", f"etcdserver: name = {h}")
            log(t0 + timedelta(seconds=1), "info", "", f"raft: {mid} became follower at term 2")
        else:
            log(t0, "info", "embed/etcd.go:306", "starting an etcd server", **{"local-member-id": mid})
            log(t0 + timedelta(seconds=1), "info", "etcdserver/zap_raft.go:77", f"{mid} became follower at term 2")
        for i in range(1, 120):
            t = t0 + timedelta(seconds=30 * i)
            log(t, "info", "etcdserver/server.go:1153", "saved snapshot", **({} if legacy else {"snapshot-index": str(i)}))
            if h != ahead:
                if i % 17 == 0:
                    if legacy:
                        log(t + timedelta(seconds=1), "warn", "", f"rafthttp: health check for peer {members[ahead]} "
                            "could not connect: dial tcp 10.0.0.12:2380: i/o timeout")
                    else:
                        log(t + timedelta(seconds=1), "warn", "rafthttp/probing_status.go:68",
                            "prober detected unhealthy status", **{"round-tripper-name": "ROUND_TRIPPER_SNAPSHOT",
                                                                  "remote-peer-id": members[ahead], "rtt": "0s"})
                continue
            for p, pid in members.items():
                if p == h:
                    continue
                # etcd: clockdiff = now - when - srtt/2, the peer's time read in the middle
                drift = offsets[h] - offsets[p] + rtt / 2 - rtt / 2
                at = t + timedelta(seconds=2)
                if legacy:
                    log(at, "warn", "", f"rafthttp: the clock difference against peer {pid} is too high "
                                        f"[{_go(drift)} > 1s]")
                elif i % 5 == 0:   # etcd 3.4.x printed the two the other way round
                    log(at, "warn", "rafthttp/probing_status.go:86", "prober found high clock drift",
                        **{"round-tripper-name": "ROUND_TRIPPER_RAFT_MESSAGE", "remote-peer-id": pid,
                           "clock-drift": _go(rtt), "rtt": _go(drift)})
                else:
                    log(at, "warn", "rafthttp/probing_status.go:82", "prober found high clock drift",
                        **{"round-tripper-name": "ROUND_TRIPPER_SNAPSHOT", "remote-peer-id": pid,
                           "clock-drift": _go(drift), "rtt": _go(rtt)})
        _write(root / f"{h}.corp.example" / ("syslog" if legacy else "etcd.log"), lines)
        if h != ahead:   # the others' chronyd keeps them on time and says so
            _write(root / f"{h}.corp.example" / "chrony.log",
                   [rfc3164_line(t0 + timedelta(minutes=10 * k, seconds=5), h, "chronyd", 612,
                                 "Selected source 10.0.0.1 (ntp1.corp.example)") for k in range(7)])
    return Truth(root, {f"{h}.corp.example": o for h, o in offsets.items()},
                 members={f"{h}.corp.example": m for h, m in members.items()})
