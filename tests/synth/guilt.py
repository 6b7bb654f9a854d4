"""Collections where the host that logs the failure is not the one whose clock is wrong.

Each case is one shape of issue 18, written as the real software writes its logs, with
the truth it was drawn from (:class:`synth.phenomena.Truth`):

* a domain controller behind fails every member's Kerberos (Security 4771 0x25 naming
  each client's address) vs. one client ahead failing alone while the DC issues the
  others' tickets (4768 0x0);
* a token issuer ahead whose tokens three API servers reject (PyJWT, jsonwebtoken) vs.
  one verifier behind, which chronyd later steps forward;
* a SAML identity provider ahead vs. a service provider behind;
* a TLS client behind failing against several servers vs. one server's certificate
  issued ahead, failing every client.

Texts: PyJWT 2 ``jwt.exceptions.ImmatureSignatureError: The token is not yet valid
(iat)`` (jwt/api_jwt.py); jsonwebtoken ``NotBeforeError: jwt not active``
(lib/NotBeforeError.js, verify.js); python3-saml ``The assertion is valid in the future``
style from the rule's own examples (SAML2ValidationError, node saml2-js); Go's
``Get "https://host/": x509: certificate has expired or is not yet valid: current time
... is before ...`` (crypto/x509/verify.go, net/url Error); urllib3's
``HTTPSConnectionPool(host=..., port=443): Max retries exceeded`` (urllib3/exceptions.py);
chronyd ``Selected source``, ``System clock was stepped by`` (chrony reference.c,
sources.c); Security 4768/4771 (Microsoft, "4771(F): Kerberos pre-authentication
failed").
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from .phenomena import (UTC, Truth, _dc_kerberos, _every, _hosts_yaml, _iso_line, _LINUX_NOISE, _Machine, _secs,
                        _security_noise, _system_noise, _write)

S = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
E = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
ONSET = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)


def kerberos_fleet(out: Path, members: int, dc_offset: float, odd: float | None, seed: int = 18,
                   name: str = "kerberos-fleet", stripchart: datetime | None = None) -> Truth:
    """dc01 and ``members`` member servers asking it for TGTs every ~10 min; from 09:30
    dc01 is ``dc_offset`` off, and the last member ``odd`` off (None: right). Only the
    DC's Security log shows the failures (4771 0x25 naming the client's address) and
    the tickets it issued (4768 0x0); no log measures any clock."""
    dc = _Machine("dc01.corp.test", [(None, 0.0), (ONSET, dc_offset)], "10.0.1.2", seed=seed)
    ws = [_Machine(f"ws{k:02d}.corp.test", [(None, 0.0)], f"10.0.1.{20 + k}", seed=seed) for k in range(members)]
    if odd is not None:
        ws[-1].truth.offsets.append((ONSET, odd))
    for m in [dc] + ws:
        _system_noise(m, S, E)
        _security_noise(m, S, E)
    for m in ws:
        for t in _every(S, E, 500, 700, m.rng):
            _dc_kerberos(dc, m, t)
    if stripchart is not None:
        write_stripchart(ws[0], "stripchart-dc01.txt", dc.fqdn, dc.ip, dc.offset, stripchart)
        write_stripchart(ws[0], "stripchart-ntp.txt", "time.windows.com", "20.101.57.9", lambda t: 0.0,
                         stripchart + _secs(60), dataonly=True)
    culprit = dc if odd is None else ws[-1]
    truth_off = dc_offset if odd is None else odd
    return _write(name, out, [dc] + ws, "timezone: UTC\n" + _hosts_yaml([dc] + ws) + "changes: []\n",
                  culprit=culprit.fqdn, culprit_offset_s=truth_off, since=ONSET,
                  healthy=[m.fqdn for m in [dc] + ws if m is not culprit], incidents=1)


def dc_behind(out: Path, *, stripchart: datetime | None = None) -> Truth:
    """dc01 goes 3 h behind at 09:30 (no record says how): every member's TGT request
    fails with 4771 0x25 from then on. The members' clocks are right. With
    ``stripchart`` (a true time), the responder measured then from ws00: ``w32tm
    /stripchart`` against dc01 and, a minute later, against time.windows.com, saved by
    PowerShell (UTF-16, CRLF, an en-GB date; the second with /dataonly)."""
    return kerberos_fleet(out, 4, -10800.0, None, name="dc-behind", stripchart=stripchart)


def write_stripchart(m: _Machine, name: str, target: str, address: str, target_offset, at: datetime,
                     samples: int = 5, *, dataonly: bool = False, day_first: bool = True) -> None:
    """``w32tm /stripchart /computer:target /samples:N [/dataonly] > name`` run on ``m``
    at true ``at``: a sample every 2 s, ``o:`` the target's clock less m's (NTP's
    offset), ``d:`` a LAN round trip; one sample times out (error 0x800705B4).
    ``target_offset(t)`` is the target's true offset. The forms as users posted them
    (Icinga/icinga-powershell-plugins issue 176, MicrosoftDocs/windowsserverdocs 2065)."""
    m.log(name, "lines", encoding="utf-16", newline="\r\n")
    m.add(name, at, lambda lg, rid: f"Tracking {target} [{address}:123].")
    m.add(name, at, lambda lg, rid: f"Collecting {samples} samples.")

    def now(lg: datetime, rid: int) -> str:
        day = f"{lg.day:02d}/{lg.month:02d}/{lg.year}" if day_first else f"{lg.month}/{lg.day}/{lg.year}"
        hour = lg.hour % 12 or 12
        return f"The current time is {day} {hour}:{lg.minute:02d}:{lg.second:02d} {'AM' if lg.hour < 12 else 'PM'}."
    m.add(name, at, now)
    for k in range(samples):
        t = at + _secs(2 * k)
        delay = 0.0004 + m.rng.uniform(0, 0.0003)
        o = target_offset(t) - m.offset(t) + m.rng.uniform(-0.0002, 0.0002)
        if k == 2:
            m.add(name, t, lambda lg, rid: f"{lg:%H:%M:%S}, error: 0x800705B4")
        elif dataonly:
            m.add(name, t, lambda lg, rid, o=o: f"{lg:%H:%M:%S}, {o:+011.7f}s")
        else:
            m.add(name, t, lambda lg, rid, o=o, d=delay: f"{lg:%H:%M:%S}, d:{d:+011.7f}s o:{o:+011.7f}s  [*  |  ]")


def client_ahead(out: Path) -> Truth:
    """ws04 goes 15 min ahead at 09:30: only its requests fail (4771 0x25) while dc01
    keeps issuing the other members' tickets (4768 0x0)."""
    return kerberos_fleet(out, 5, 0.0, 900.0, name="client-ahead")


# ---------------------------------------------------------------------------------
# Tokens and certificates: Linux hosts, rsyslog's /var/log/syslog


def _linux(fqdn: str, offsets, ip: str, *, synced: bool, step_at: datetime | None = None) -> _Machine:
    m = _Machine(fqdn, offsets, ip, seed=18)
    m.log("syslog", "lines", newline="\r\n" if m.short.endswith("2") else "\n")
    for t in _every(S, E, 200, 500, m.rng):
        app, pid, msg = m.rng.choice(_LINUX_NOISE)
        line(m, t, app, pid, msg)
    if synced:
        line(m, S + _secs(30), "chronyd", 611, "Selected source 10.0.9.10 (ntp1.corp.test)")
    if step_at is not None:
        size = -m.truth.offsets[-2][1]
        line(m, step_at - _secs(0.002), "chronyd", 611, "Selected source 10.0.9.10 (ntp1.corp.test)")
        line(m, step_at + _secs(0.0003), "chronyd", 611, f"System clock was stepped by {size:.6f} seconds")
    return m


def line(m: _Machine, t: datetime, app: str, pid: int | None, msg: str) -> None:
    m.add("syslog", t, lambda lg, rid: _iso_line(lg, m.short, app, pid, msg))


def _refusals(verifier: _Machine, issuer: _Machine, texts: list[tuple[str, int, str]], every: float = 90.0,
              tol: float = 300.0, start: datetime = S) -> None:
    """``verifier`` checks a token (or an assertion) ``issuer`` issued a moment before:
    refused, with one of ``texts``, when the issuer's clock is ahead of the verifier's
    by more than ``tol``; noise otherwise (the usual access line)."""
    for k, t in enumerate(_every(start, E, every * 0.8, every * 1.2, verifier.rng)):
        issued = t - _secs(0.05)
        if issuer.offset(issued) - verifier.offset(t) > tol:
            app, pid, msg = texts[k % len(texts)]
            if callable(msg):   # it prints the token's nbf (the issuer's clock) and its own time
                nbf = issued + _secs(issuer.offset(issued))
                verifier.add("syslog", t, lambda lg, rid, app=app, pid=pid, msg=msg, nbf=nbf:
                             _iso_line(lg, verifier.short, app, pid, msg(nbf, lg)))
            else:
                line(verifier, t, app, pid, msg)
        else:
            line(verifier, t, "gunicorn", 903, '10.0.9.5 - - "POST /v1/orders HTTP/1.1" 201 88')


_JWT = [("api", 903, "jwt.exceptions.ImmatureSignatureError: The token is not yet valid (iat)"),
        ("node", 1320, "NotBeforeError: jwt not active")]
# Validators that print the token's nbf beside their own time (the issuer unnamed):
# Microsoft.IdentityModel.Tokens 6.x IDX10222 (invariant-culture DateTime), jjwt's
# PrematureJwtException, jsonwebtoken's NotBeforeError through pino's err serializer.
_JWT_PRINTED = [
    ("dotnet", 2210, lambda nbf, now: "fail: Microsoft.AspNetCore.Authentication.JwtBearer.JwtBearerHandler[1] "
                                      "Authentication failed. Microsoft.IdentityModel.Tokens."
                                      "SecurityTokenNotYetValidException: IDX10222: Lifetime validation failed. The "
                                      f"token is not yet valid. ValidFrom (UTC): '{nbf:%m/%d/%Y %H:%M:%S}', Current "
                                      f"time (UTC): '{now:%m/%d/%Y %H:%M:%S}'."),
    ("java", 1875, lambda nbf, now: "WARN o.s.s.o.s.r.a.JwtAuthenticationProvider - io.jsonwebtoken."
                                    f"PrematureJwtException: JWT must not be accepted before {nbf:%Y-%m-%dT%H:%M:%SZ}. "
                                    f"Current time: {now:%Y-%m-%dT%H:%M:%SZ}, a difference of "
                                    f"{int((nbf - now).total_seconds() * 1000)} milliseconds.  Allowed clock skew: "
                                    "0 milliseconds."),
    ("node", 1320, lambda nbf, now: '{"level":50,"time":%d,"pid":1320,"hostname":"api03","err":{"type":'
                                    '"NotBeforeError","message":"jwt not active","stack":"NotBeforeError: jwt not '
                                    'active\\n    at /srv/api/node_modules/jsonwebtoken/verify.js:180:21",'
                                    '"date":"%s"},"msg":"jwt not active"}'
                                    % (int(now.timestamp() * 1000), nbf.strftime("%Y-%m-%dT%H:%M:%S.000Z"))),
]
_SAML = [("shibd", 712, "SAML2ValidationError: The assertion is valid in the future")]


REBOOT = ONSET - timedelta(minutes=2)


def _reboot(m: _Machine, at: datetime, wrong_by: bool) -> None:
    """``m`` is shut down just before true ``at`` and boots then, its clock set from an
    RTC 600 s fast (Debian 12's kernel and rsyslog lines); with ``wrong_by``, chronyd
    then says so and may not step it (makestep's limit is spent), every 10 min."""
    down = at - _secs(40)
    line(m, down, "systemd", 1, "Stopping rsyslog.service - System Logging Service...")
    line(m, down + _secs(0.1), "rsyslogd", None, '[origin software="rsyslogd" swVersion="8.2302.0" x-pid="512" '
                                                 'x-info="https://www.rsyslog.com"] exiting on signal 15.')
    up = at + _secs(9)
    line(m, up, "rsyslogd", None, '[origin software="rsyslogd" swVersion="8.2302.0" x-pid="509" '
                                  'x-info="https://www.rsyslog.com"] start')
    line(m, up + _secs(0.001), "kernel", None,
         "[    0.000000] Linux version 6.1.0-13-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) "
         "12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1 (2023-09-29)")
    if wrong_by:
        for t in _every(up + _secs(30), E, 590, 610, m.rng):
            line(m, t, "chronyd", 611, f"System clock wrong by -{600 + m.rng.uniform(0, 0.001):.6f} seconds")


def jwt_issuer_ahead(out: Path, *, synced: bool = True, reboot: bool = False, wrong_by: bool = False,
                     printed: bool = False) -> Truth:
    """auth01 (no time daemon in its logs) goes 600 s ahead at 09:30: the three API
    servers reject its tokens as not yet valid. The API servers are right (chronyd
    synced, unless ``synced=False``); no record names the issuer. With ``reboot``, the
    wrong clock arrives with a reboot at 09:28 (logged 09:38, after the failures
    began); with ``wrong_by``, chronyd on auth01 measures it. With ``printed``, the
    validators are a .NET, a Java (jjwt) and a Node (pino) service, whose errors print
    the token's nbf beside their own time."""
    at = REBOOT if reboot else ONSET
    auth = _linux("auth01.corp.test", [(None, 0.0), (at, 600.0)], "10.0.9.2", synced=False)
    if reboot:
        _reboot(auth, at, wrong_by)
    apis = [_linux(f"api0{k}.corp.test", [(None, 0.0)], f"10.0.9.{10 + k}", synced=synced) for k in (1, 2, 3)]
    for k, a in enumerate(apis):
        _refusals(a, auth, [_JWT_PRINTED[k]] if printed else _JWT)
    return _write("jwt-issuer-ahead", out, [auth] + apis, "timezone: UTC\nchanges: []\n", culprit=auth.fqdn,
                  culprit_offset_s=600.0, since=at, healthy=[a.fqdn for a in apis], incidents=1)


def jwt_verifier_behind(out: Path) -> Truth:
    """api02 is 600 s behind until chronyd steps it forward at 11:00: only api02
    rejects auth01's tokens. auth01 and the other API servers are right."""
    fix = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)
    auth = _linux("auth01.corp.test", [(None, 0.0)], "10.0.9.2", synced=True)
    apis = [_linux("api01.corp.test", [(None, 0.0)], "10.0.9.11", synced=True),
            _linux("api02.corp.test", [(None, -600.0), (fix, 0.0)], "10.0.9.12", synced=False, step_at=fix),
            _linux("api03.corp.test", [(None, 0.0)], "10.0.9.13", synced=True)]
    for a in apis:
        _refusals(a, auth, _JWT)
    return _write("jwt-verifier-behind", out, [auth] + apis, "timezone: UTC\nchanges: []\n", culprit=apis[1].fqdn,
                  culprit_offset_s=-600.0, since=None, until=fix,
                  healthy=[auth.fqdn, apis[0].fqdn, apis[2].fqdn], incidents=1)


def saml_idp_ahead(out: Path) -> Truth:
    """idp01 goes 900 s ahead at 09:30; the service provider sp01 (chronyd synced)
    refuses its assertions as valid in the future."""
    idp = _linux("idp01.corp.test", [(None, 0.0), (ONSET, 900.0)], "10.0.9.30", synced=False)
    sp = _linux("sp01.corp.test", [(None, 0.0)], "10.0.9.31", synced=True)
    _refusals(sp, idp, _SAML)
    return _write("saml-idp-ahead", out, [idp, sp], "timezone: UTC\nchanges: []\n", culprit=idp.fqdn,
                  culprit_offset_s=900.0, since=ONSET, healthy=[sp.fqdn], incidents=1)


def saml_sp_behind(out: Path) -> Truth:
    """sp01 is 900 s behind until chronyd steps it at 11:00; idp01 is right."""
    fix = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)
    idp = _linux("idp01.corp.test", [(None, 0.0)], "10.0.9.30", synced=True)
    sp = _linux("sp01.corp.test", [(None, -900.0), (fix, 0.0)], "10.0.9.31", synced=False, step_at=fix)
    _refusals(sp, idp, _SAML)
    return _write("saml-sp-behind", out, [idp, sp], "timezone: UTC\nchanges: []\n", culprit=sp.fqdn,
                  culprit_offset_s=-900.0, since=None, until=fix, healthy=[idp.fqdn], incidents=1)


def _tls_calls(client: _Machine, server: _Machine, not_before: datetime, how: int, installed: datetime = S) -> None:
    """``client`` calls ``server`` over TLS every few minutes; from when the certificate
    was ``installed``, the call fails while the client's clock reads earlier than its
    NotBefore."""
    for t in _every(S, E, 150, 250, client.rng):
        reads = t + _secs(client.offset(t))
        if t >= installed and reads < not_before:
            now, nb = f"{reads:%Y-%m-%dT%H:%M:%SZ}", f"{not_before:%Y-%m-%dT%H:%M:%SZ}"
            msg = (f'Get "https://{server.fqdn}/v1/orders": x509: certificate has expired or is not yet valid: '
                   f"current time {now} is before {nb}") if how % 2 else (
                f"HTTPSConnectionPool(host='{server.fqdn}', port=443): Max retries exceeded with url: /v1/orders "
                "(Caused by SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate "
                "verify failed: certificate is not yet valid (_ssl.c:1006)')))")
            line(client, t, "worker" if how % 2 else "python3", 1500 + how, msg)
        else:
            line(client, t, "worker", 1500 + how, f"GET https://{server.fqdn}/v1/orders 200 41ms")


def tls_client_behind(out: Path) -> Truth:
    """cl01 goes 2 days behind at 09:30 (an RTC reset): every server's certificate,
    renewed yesterday, is not yet valid for it. The servers and cl02 are right."""
    cl = _linux("cl01.corp.test", [(None, 0.0), (ONSET, -2 * 86400.0)], "10.0.9.40", synced=False)
    ok = _linux("cl02.corp.test", [(None, 0.0)], "10.0.9.41", synced=True)
    servers = [_linux(f"srv0{k}.corp.test", [(None, 0.0)], f"10.0.9.5{k}", synced=True) for k in (1, 2, 3)]
    for k, s in enumerate(servers):
        nb = S - timedelta(days=1)
        _tls_calls(cl, s, nb, k)
        _tls_calls(ok, s, nb, k + 1)
    return _write("tls-client-behind", out, [cl, ok] + servers, "timezone: UTC\nchanges: []\n", culprit=cl.fqdn,
                  culprit_offset_s=-2 * 86400.0, since=ONSET, healthy=[ok.fqdn] + [s.fqdn for s in servers],
                  incidents=1)


def tls_certificate_ahead(out: Path) -> Truth:
    """srv01's certificate was issued at 09:30 by a CA whose clock was 1 h ahead
    (NotBefore 10:30): every client fails against srv01 until then; the clients'
    clocks and srv02's are right."""
    clients = [_linux(f"cl0{k}.corp.test", [(None, 0.0)], f"10.0.9.4{k}", synced=True) for k in (1, 2, 3)]
    srv = _linux("srv01.corp.test", [(None, 0.0)], "10.0.9.51", synced=True)
    srv2 = _linux("srv02.corp.test", [(None, 0.0)], "10.0.9.52", synced=True)
    for k, c in enumerate(clients):
        _tls_calls(c, srv, ONSET + timedelta(hours=1), k, installed=ONSET)
        _tls_calls(c, srv2, S - timedelta(days=1), k + 1)
    return _write("tls-certificate-ahead", out, clients + [srv, srv2], "timezone: UTC\nchanges: []\n",
                  culprit=srv.fqdn, culprit_offset_s=None, since=ONSET,
                  healthy=[c.fqdn for c in clients] + [srv2.fqdn], incidents=1)


def jwt_issuer_ahead_behind_a_gateway(out: Path, skew: float = 600.318) -> Truth:
    """The issue's own collection: gw01 (Spring Cloud Gateway, logback's JsonEncoder,
    MDC requestId; chronyd synced in its syslog) calls auth01 (a Python service,
    structlog, ``request_id``) for every token, neither saying which side of the call it
    is; auth01 is ``skew`` s ahead throughout, and the three API servers (no time daemon
    in their logs) reject its tokens. No record names the issuer."""
    from .applog import logback_json_line, structlog_line

    gw = _linux("gw01.corp.test", [(None, 0.0)], "10.0.9.1", synced=True)
    auth = _Machine("auth01.corp.test", [(None, skew)], "10.0.9.2", seed=18)
    apis = [_linux(f"api0{k}.corp.test", [(None, 0.0)], f"10.0.9.{10 + k}", synced=False) for k in (1, 2, 3)]
    for k, t in enumerate(_every(S, E, 40, 80, gw.rng)):
        rid = f"{gw.rng.getrandbits(128):032x}"
        a = t + _secs(gw.rng.uniform(0.0005, 0.02))
        b = a + _secs(gw.rng.uniform(0.002, 0.08))
        c = b + _secs(gw.rng.uniform(0.0005, 0.02))
        thread = f"reactor-http-nio-{k % 4 + 1}"
        gw.add("gateway.json", t, lambda lg, _, rid=rid, k=k, thread=thread: logback_json_line(
            lg, "--> POST /token", logger="com.example.gateway.AccessLog", thread=thread, mdc={"requestId": rid},
            seq=2 * k))
        gw.add("gateway.json", c, lambda lg, _, rid=rid, k=k, thread=thread: logback_json_line(
            lg, "<-- 200", logger="com.example.gateway.AccessLog", thread=thread, mdc={"requestId": rid},
            seq=2 * k + 1))
        auth.add("auth.log", a, lambda lg, _, rid=rid: structlog_line(
            lg, "request started", logger="auth.http", request_id=rid, method="POST", path="/token"))
        auth.add("auth.log", b, lambda lg, _, rid=rid: structlog_line(
            lg, "request finished", logger="auth.http", request_id=rid, status=200))
    for a in apis:
        _refusals(a, auth, _JWT)
    return _write("jwt-issuer-behind-gateway", out, [gw, auth] + apis, "timezone: UTC\nchanges: []\n",
                  culprit=auth.fqdn, culprit_offset_s=skew, since=None,
                  healthy=[gw.fqdn] + [a.fqdn for a in apis], incidents=1)
