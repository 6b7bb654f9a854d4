"""Nested objects of JSON log lines: kept in ``fields`` by their dotted paths, bounded.

Lines are written as the loggers write them, each test naming its source: pino's
``err`` serializer (pinojs/pino-std-serializers lib/err.js) of jsonwebtoken's
NotBeforeError (auth0/node-jsonwebtoken lib/NotBeforeError.js, JsonWebTokenError.js:
own properties ``name``, ``message``, ``date``), pino-http's ``req`` (lib/req.js),
bunyan's ``stdSerializers.err``, ecs-logging-python's ``StdlibFormatter``
(``error.*`` from ``exc_info``, ``extra`` de-dotted into objects, ``@timestamp``,
``log.level`` and ``message`` first and the rest sorted), ecs-pino-format
(``convertReqRes``: ``http.request.id`` from ``req.id``; elastic/ecs-logging-nodejs
ecs-helpers), structlog's ``format_exc_info`` and ``dict_tracebacks``
(hynek/structlog tracebacks.py). Checked: the fields a rule and a case file's
correlation keys name reach the nested values; the built-in JWT rule matches the
errors these loggers nest; nested request ids pair two hosts' records; the bounds
hold against hostile nesting; CRLF files read the same.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.properties import examples

import skewsleuth
from skewsleuth.rules import load_rules
from skewsleuth.schema import EVENTS
from skewsleuth.sources import applog
from skewsleuth.sources.base import FileContext
from synth.applog import pino_line

UTC = timezone.utc
T0 = datetime(2026, 11, 30, 9, 31, 43, 512000, tzinfo=UTC)
NBF = "2026-11-30T09:41:43.000Z"     # the token's nbf: ten minutes ahead of the validator
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
RID = "7d1c0e9a-5b4f-4c3e-9d2a-1b0c9f8e7d6a"
JWT_SIGNATURE = "JWT_LIFETIME_INVALID"    # skewsleuth/rules/builtin/oauth-jwt-lifetime.yml

# jsonwebtoken 9 verify.js throws NotBeforeError('jwt not active', new Date(payload.nbf * 1000))
# from its nbf check; V8 writes the stack as "<name>: <message>" and the frames.
JWT_STACK = ("NotBeforeError: jwt not active\n"
             "    at /srv/api/node_modules/jsonwebtoken/verify.js:165:21\n"
             "    at getSecret (/srv/api/node_modules/jsonwebtoken/verify.js:101:14)\n"
             "    at module.exports [as verify] (/srv/api/node_modules/jsonwebtoken/verify.js:105:10)\n"
             "    at /srv/api/src/auth.js:27:9")
# pino-std-serializers' err: type (the constructor's name), message, stack, then the
# error's own enumerable properties not set yet (name, date).
PINO_ERR = {"type": "NotBeforeError", "message": "jwt not active", "stack": JWT_STACK, "name": "NotBeforeError",
            "date": NBF}
# PyJWT 2.10 on a token whose iat is ahead: traceback.format_tb of the exception, as
# ecs-logging-python writes it into error.stack_trace (paths as deployed).
PYJWT_TB = ('  File "/srv/auth/tokens.py", line 41, in verify\n'
            '    claims = jwt.decode(token, key, algorithms=["RS256"], audience="api")\n'
            '             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n'
            '  File "/usr/lib/python3/dist-packages/jwt/api_jwt.py", line 370, in decode\n'
            '    decoded = self.decode_complete(\n'
            '  File "/usr/lib/python3/dist-packages/jwt/api_jwt.py", line 483, in _validate_iat\n'
            '    raise ImmatureSignatureError("The token is not yet valid (iat)")\n')


def read_all(path: Path):
    """(rows with data decoded, quarantined); every record read is one or the other."""
    ctx = FileContext(path=path, file_id=0, default_host="app01", timezone=UTC)
    rows = []
    for batch in applog.read(ctx):
        assert batch.schema.equals(EVENTS)
        rows.extend(batch.to_pylist())
    for row in rows:
        row["data"] = json.loads(row["data"])
    nos = [r["record_no"] for r in rows] + [q.record_no for q in ctx.quarantined]
    assert sorted(nos) == list(range(len(nos)))
    return rows, ctx.quarantined


def write(tmp_path: Path, text: str, name: str = "app.log") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode())
    return p


def rows_of(tmp_path: Path, lines: list[str]):
    return read_all(write(tmp_path, "\n".join(lines) + "\n"))


def one(tmp_path: Path, line: str) -> dict:
    rows, quarantined = rows_of(tmp_path, [line])
    assert not quarantined, quarantined
    (row,) = rows
    return row


def _iso_ms(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def pino_err_line(t: datetime = T0, *, msg: str = "token rejected", host: str = "api03", req_id: str = RID) -> str:
    """pino-http's req.log.error({err}, msg) in an express app: the request's child
    logger binds ``req`` (pino-std-serializers' req: id, method, url, query, params,
    headers, remoteAddress, remotePort)."""
    return pino_line(t, msg, hostname=host, pid=1320, level=50,
                     req={"id": req_id, "method": "GET", "url": "/v1/orders", "query": {}, "params": {},
                          "headers": {"host": f"{host}:3000", "authorization": "Bearer [redacted]",
                                      "x-request-id": req_id},
                          "remoteAddress": "::ffff:10.0.0.7", "remotePort": 51544},
                     err=PINO_ERR)


def bunyan_err_line(t: datetime = T0) -> str:
    """node-bunyan log.error({err}, 'token rejected'): stdSerializers.err keeps message,
    name, stack (code and signal, undefined, are not written)."""
    return json.dumps({"name": "api", "hostname": "api04", "pid": 2211, "level": 50,
                       "err": {"message": "jwt not active", "name": "NotBeforeError", "stack": JWT_STACK},
                       "msg": "token rejected", "time": _iso_ms(t), "v": 0}, separators=(",", ":"))


def ecs_python_line(t: datetime, message: str, *, level: str = "info", request_id: str | None = None,
                    exc: tuple[str, str, str] | None = None, logger: str = "auth.tokens") -> str:
    """ecs-logging-python StdlibFormatter: ``@timestamp``, ``log.level``, ``message``
    first, the rest de-dotted into objects and sorted; ``extra={"http.request.id": ...}``,
    the Elastic APM agent's ``trace.id``, ``exc_info`` as ``error.type`` /
    ``error.message`` / ``error.stack_trace``."""
    rest: dict = {"ecs": {"version": "1.6.0"},
                  "log": {"logger": logger, "origin": {"file": {"line": 44, "name": "tokens.py"}, "function": "verify"},
                          "original": message},
                  "process": {"name": "MainProcess", "pid": 812, "thread": {"id": 139872419571520,
                                                                           "name": "MainThread"}},
                  "trace": {"id": TRACE}}
    if request_id is not None:
        rest["http"] = {"request": {"id": request_id}}
    if exc is not None:
        rest["error"] = {"message": exc[1], "stack_trace": exc[2], "type": exc[0]}
    head = json.dumps({"@timestamp": _iso_ms(t), "log.level": level, "message": message}, separators=(",", ":"))
    return head[:-1] + "," + json.dumps(rest, sort_keys=True, separators=(",", ":"))[1:]


def ecs_pino_line(t: datetime, message: str, *, host: str, request_id: str) -> str:
    """@elastic/ecs-pino-format with convertReqRes: pino writes ``log.level``, then
    ``@timestamp``, the bindings (``process.pid``, ``host.hostname``, ``ecs.version``),
    the converted ``http`` / ``url`` / ``client`` objects (``http.request.id`` from
    ``req.id``) and ``message`` last."""
    return (f'{{"log.level":"info","@timestamp":"{_iso_ms(t)}","process.pid":3310,"host.hostname":"{host}",'
            f'"ecs.version":"8.10.0","http":{{"version":"1.1","request":{{"method":"POST","headers":'
            f'{{"host":"{host}:3000","content-type":"application/json","x-request-id":"{request_id}"}},'
            f'"id":"{request_id}"}}}},"url":{{"full":"http://{host}:3000/login","path":"/login"}},'
            f'"client":{{"ip":"10.0.0.5","address":"10.0.0.5","port":51544}},"message":"{message}"}}')


def structlog_dict_tb_line(t: datetime = T0) -> str:
    """structlog JSONRenderer after add_log_level, TimeStamper(fmt="iso", utc=True) and
    dict_tracebacks (ExceptionDictTransformer, structlog 25.4: exc_notes, is_group,
    exceptions; show_locals on by default), for log.exception("token rejected")."""
    stack = {"exc_type": "ImmatureSignatureError", "exc_value": "The token is not yet valid (iat)", "exc_notes": [],
             "syntax_error": None, "is_cause": False,
             "frames": [{"filename": "/srv/auth/tokens.py", "lineno": 41, "name": "verify",
                         "locals": {"token": "'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIi'+212", "key": "'...'"}},
                        {"filename": "/usr/lib/python3/dist-packages/jwt/api_jwt.py", "lineno": 483,
                         "name": "_validate_iat", "locals": {"self": "<jwt.api_jwt.PyJWT object at 0x7f3a>",
                                                             "payload": "{'sub': 'u1', 'iat': 1796031703}"}}],
             "is_group": False, "exceptions": []}
    return json.dumps({"request_id": RID, "event": "token rejected", "level": "error",
                       "timestamp": t.isoformat().replace("+00:00", "Z"), "exception": [stack]})


def structlog_format_exc_line(t: datetime = T0) -> str:
    """structlog with format_exc_info: the traceback as one string under ``exception``."""
    return json.dumps({"event": "token rejected", "level": "error", "timestamp": t.isoformat().replace("+00:00", "Z"),
                       "exception": "Traceback (most recent call last):\n" + PYJWT_TB +
                                    "jwt.exceptions.ImmatureSignatureError: The token is not yet valid (iat)"})


# --- what the reader keeps -----------------------------------------------------------------


def test_pino_err_and_req_are_kept_by_their_dotted_paths(tmp_path):
    row = one(tmp_path, pino_err_line())
    fields = row["data"]["fields"]
    # the logger's own message stays the message: the error's text is beside it
    assert (row["host"], row["message"]) == ("api03", "token rejected")
    assert {k: fields[k] for k in ("err.type", "err.message", "err.stack", "err.name", "err.date")} == {
        "err.type": "NotBeforeError", "err.message": "jwt not active", "err.stack": JWT_STACK,
        "err.name": "NotBeforeError", "err.date": NBF}
    assert fields["req.id"] == RID and fields["req.headers.x-request-id"] == RID
    assert fields["req.remotePort"] == 51544 and fields["level"] == 50 and fields["pid"] == 1320
    # empty objects (query, params) leave nothing; the host's field is the host
    assert not any(k.startswith(("req.query", "req.params")) for k in fields) and "hostname" not in fields
    assert row["data"]["corr"] == {"request_id": RID} and "fields_cut" not in row["data"]


def test_bunyan_err(tmp_path):
    row = one(tmp_path, bunyan_err_line())
    assert (row["host"], row["provider"], row["message"]) == ("api04", "api", "token rejected")
    assert row["data"]["fields"] == {"pid": 2211, "level": 50, "err.message": "jwt not active",
                                     "err.name": "NotBeforeError", "err.stack": JWT_STACK, "v": 0}


def test_ecs_error_request_and_trace_ids(tmp_path):
    rows, quarantined = rows_of(tmp_path, [
        ecs_python_line(T0, "token rejected", level="error", request_id=RID,
                        exc=("ImmatureSignatureError", "The token is not yet valid (iat)", PYJWT_TB)),
        ecs_pino_line(T0, "calling auth", host="bff01", request_id=RID),
    ])
    assert not quarantined
    py, node = (r["data"]["fields"] for r in rows)
    assert rows[0]["provider"] == "auth.tokens" and "log.logger" not in py     # the provider's field
    assert py["error.type"] == "ImmatureSignatureError" and py["error.stack_trace"] == PYJWT_TB
    assert py["error.message"] == "The token is not yet valid (iat)"
    assert py["http.request.id"] == RID and py["trace.id"] == TRACE and py["process.thread.name"] == "MainThread"
    assert py["log.level"] == "error" and py["log.origin.file.line"] == 44
    assert rows[1]["host"] == "bff01" and "host.hostname" not in node
    assert node["http.request.id"] == RID and node["http.request.headers.x-request-id"] == RID
    assert node["url.path"] == "/login" and node["client.port"] == 51544
    assert [r["data"]["corr"] for r in rows] == [{"request_id": RID, "trace_id": TRACE}, {"request_id": RID}]


def test_structlog_exceptions(tmp_path):
    rows, quarantined = rows_of(tmp_path, [structlog_dict_tb_line(), structlog_format_exc_line()])
    assert not quarantined
    tb, text = (r["data"]["fields"] for r in rows)
    # dict_tracebacks: a list of stacks, its items by index
    assert tb["exception.0.exc_type"] == "ImmatureSignatureError"
    assert tb["exception.0.exc_value"] == "The token is not yet valid (iat)"
    assert tb["exception.0.is_cause"] is False and tb["exception.0.frames.1.lineno"] == 483
    assert tb["exception.0.frames.0.locals.token"].startswith("'eyJhbGci")
    assert not any(k.startswith(("exception.0.exc_notes", "exception.0.syntax_error")) for k in tb)
    assert text["exception"].endswith("ImmatureSignatureError: The token is not yet valid (iat)")


def test_a_flat_dotted_key_wins_over_the_nested_path(tmp_path):
    # pino bindings may carry "req.id" flat beside a nested req (as _lookup reads them)
    row = one(tmp_path, '{"level":30,"time":1796031103512,"req.id":"flat-1","req":{"id":"nested-1"},"msg":"x"}')
    assert row["data"]["fields"]["req.id"] == "flat-1" and row["data"]["corr"]["request_id"] == "flat-1"


def test_crlf_files_read_the_same(tmp_path):
    lines = [pino_err_line(), bunyan_err_line(), structlog_dict_tb_line(),
             ecs_python_line(T0, "token rejected", request_id=RID)]
    lf, _ = read_all(write(tmp_path, "\n".join(lines) + "\n", "lf.log"))
    crlf, quarantined = read_all(write(tmp_path, "\r\n".join(lines) + "\r\n", "crlf.log"))
    assert not quarantined and crlf == lf
    assert not any(isinstance(v, str) and v.endswith("\r") for r in crlf for v in r["data"]["fields"].values())


# --- bounds --------------------------------------------------------------------------------


def _nested(depth: int, leaf) -> dict:
    obj = leaf
    for _ in range(depth):
        obj = {"a": obj}
    return obj


def test_deep_nesting_is_cut_at_eight_names(tmp_path):
    rows, quarantined = rows_of(tmp_path, [
        json.dumps({"ts": 1796031103, "msg": "8 deep", "x": _nested(7, "kept")}),
        json.dumps({"ts": 1796031103, "msg": "9 deep", "x": _nested(8, "cut"), "err": {"stack": "s"}}),
        json.dumps({"ts": 1796031103, "msg": "900 deep", "x": _nested(900, [1])}),
    ])
    assert not quarantined
    eight, nine, far = (r["data"] for r in rows)
    assert eight["fields"] == {"x.a.a.a.a.a.a.a": "kept"} and "fields_cut" not in eight
    assert nine["fields"] == {"err.stack": "s"} and nine["fields_cut"] is True
    assert far["fields"] == {} and far["fields_cut"] is True


def test_a_flood_of_nested_values_keeps_the_shallow_error(tmp_path):
    # 200 000 request headers (depth 3) beside pino's err (depth 2): the error is kept,
    # at most 256 nested values are, and the record stays small
    headers = {f"x-h{i}": "v" * 20 for i in range(200_000)}
    obj = {"level": 50, "time": 1796031103512, "req": {"id": RID, "headers": headers}, "err": PINO_ERR,
           "msg": "token rejected"}
    row = one(tmp_path, json.dumps(obj))
    fields = row["data"]["fields"]
    assert fields["err.stack"] == JWT_STACK and fields["req.id"] == RID
    assert len([k for k in fields if "." in k]) == 256 and row["data"]["fields_cut"] is True
    assert len(json.dumps(row["data"])) < 32_000


def test_long_paths_and_texts_are_bounded(tmp_path):
    big = "y" * 100_000
    rows, quarantined = rows_of(tmp_path, [
        # a key of a megabyte, and one that makes its path 257 characters: left out
        json.dumps({"ts": 1796031103, "msg": "keys", "x": {"k" * (1 << 20): 1, "p" * 255: 2, "q" * 254: 3}}),
        # each nested text cut at 64 KiB as a top-level one is, 256 KiB of them in all
        json.dumps({"ts": 1796031103, "msg": "texts", "x": [big] * 6}),
        json.dumps({"ts": 1796031103, "msg": "one long", "x": {"s": big}}),
    ])
    assert not quarantined
    keys, texts, long = (r["data"] for r in rows)
    assert keys["fields"] == {"x." + "q" * 254: 3} and keys["fields_cut"] is True
    assert [len(texts["fields"][f"x.{i}"]) for i in range(4)] == [64 * 1024] * 4 and "x.4" not in texts["fields"]
    assert texts["fields_cut"] is True
    assert len(long["fields"]["x.s"]) == 64 * 1024 and "fields_cut" not in long


json_scalar = st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.text(max_size=12)
# keys without dots, so that a path names one value; few enough values that only the
# depth bounds them (the count is tested above)
plain_key = st.text(st.sampled_from("abcxyz_@-0"), min_size=1, max_size=6)
json_value = st.recursive(json_scalar, lambda inner: st.lists(inner, max_size=3) |
                          st.dictionaries(plain_key, inner, max_size=3), max_leaves=30)


def _at(obj, path: str):
    for part in path.split("."):
        obj = obj[int(part)] if isinstance(obj, list) else obj[part]
    return obj


def _nodes(obj, prefix: str):
    """(path, value) of everything below ``obj`` but nulls and empty objects."""
    for k, v in obj.items() if isinstance(obj, dict) else enumerate(obj):
        if v is not None and v != {} and v != []:
            yield f"{prefix}.{k}", v
            if isinstance(v, (dict, list)):
                yield from _nodes(v, f"{prefix}.{k}")


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(nested=st.dictionaries(plain_key, st.dictionaries(plain_key, json_value, min_size=1, max_size=3), max_size=3))
def test_every_nested_value_is_kept_at_its_path_within_the_bounds(tmp_path, nested):
    obj = {"ts": 1796031103, "msg": "m", **{f"n{k}": v for k, v in nested.items()}}
    data = one(tmp_path, json.dumps(obj))["data"]
    cut, fields = data.get("fields_cut", False), data["fields"]
    for path, v in fields.items():
        assert _at(obj, path) == v
    nodes = [(p, v) for k, top in obj.items() if isinstance(top, dict) for p, v in _nodes(top, k)]
    # a path holds at most eight names: an object at the eighth is not read into
    within = all(p.count(".") < 7 for p, v in nodes if isinstance(v, (dict, list)))
    assert cut is not within
    if within:
        assert fields == {p: v for p, v in nodes if not isinstance(v, (dict, list))}


# --- what later stages read of them --------------------------------------------------------


def _symptoms(root: Path, rules: list[Path] | None = None) -> set[tuple[str, int, str]]:
    v = skewsleuth.investigate([root], rules=rules)
    return set(v.store.con.execute("""SELECT f.path, s.record_no, s.signature FROM symptoms s
                                      JOIN files f USING (file_id)""").fetchall())


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_the_builtin_jwt_rule_matches_errors_the_loggers_nest(tmp_path, newline):
    """Every record's own message is "token rejected": the rule's texts
    (NotBeforeError: jwt not active, ImmatureSignatureError) are only in the nested
    error, which Message spans through the record's data."""
    lines = [pino_err_line(T0), bunyan_err_line(T0 + timedelta(seconds=1)),
             ecs_python_line(T0 + timedelta(seconds=2), "token rejected", level="error",
                             exc=("ImmatureSignatureError", "The token is not yet valid (iat)", PYJWT_TB)),
             structlog_dict_tb_line(T0 + timedelta(seconds=3)),
             ecs_python_line(T0 + timedelta(seconds=4), "token accepted")]
    root = tmp_path / "ev"
    (root / "api03").mkdir(parents=True)
    (root / "api03" / "app.log").write_bytes((newline.join(lines) + newline).encode())
    got = {(rn, sig) for _, rn, sig in _symptoms(root)}
    assert got == {(0, JWT_SIGNATURE), (1, JWT_SIGNATURE), (2, JWT_SIGNATURE), (3, JWT_SIGNATURE)}


def test_message_texts_of_the_pack_read_the_same_inside_json():
    """Message spans the record's data as JSON text: a rule's text holding a quote, a
    backslash or a control character would not be found in a nested field as written
    there (escaped). None of the built-in pack's does."""
    for rule in load_rules():
        for text in rule.needles() or ():
            assert json.dumps(text, ensure_ascii=False)[1:-1] == text, (rule.path, text)


def test_a_rule_names_a_nested_field_by_its_dotted_path(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "jwt-by-field.yml").write_text("""
title: node jsonwebtoken nbf in the future, by the error's fields
id: 0f3e2c1a-9b8d-4e7f-a6b5-c4d3e2f1a0b9
logsource: {category: application, product: node}
detection:
  selection:
    err.type: NotBeforeError
    err.stack|contains: 'NotBeforeError: jwt not active'
  ecs:
    error.type: ImmatureSignatureError
    http.request.id|startswith: '7d1c0e9a-'
  condition: selection or ecs
skewsleuth:
  signature: NESTED_FIELD_RULE
  protocol: oauth
  tolerance_s: 0
  role: symptom
""")
    root = tmp_path / "ev"
    (root / "api03").mkdir(parents=True)
    (root / "api03" / "app.log").write_text("\n".join([
        pino_err_line(T0),
        # the same error text as a plain string: no err.stack field
        pino_line(T0 + timedelta(seconds=1), "NotBeforeError: jwt not active", hostname="api03", level=50),
        ecs_python_line(T0 + timedelta(seconds=2), "token rejected", level="error", request_id=RID,
                        exc=("ImmatureSignatureError", "The token is not yet valid (iat)", PYJWT_TB)),
        ecs_python_line(T0 + timedelta(seconds=3), "token rejected", level="error", request_id="other-1",
                        exc=("ImmatureSignatureError", "The token is not yet valid (iat)", PYJWT_TB)),
    ]) + "\n")
    got = {(rn, sig) for _, rn, sig in _symptoms(root, [rules]) if sig == "NESTED_FIELD_RULE"}
    assert got == {(0, "NESTED_FIELD_RULE"), (2, "NESTED_FIELD_RULE")}


SKEW = 600.318          # the callee's clock is this far ahead


def _calls(n: int):
    """Per call, in true seconds from T0: the caller's first record, the callee's first
    and last, the caller's last (a few milliseconds on the wire each way)."""
    for k in range(n):
        t = 2.0 * k + 0.001 * (k % 5)
        a = t + 0.004 + 0.001 * (k % 3)
        b = a + 0.030 + 0.002 * (k % 7)
        yield k, t, a, b, b + 0.005


def _t(seconds: float, skew: float = 0.0) -> datetime:
    return T0 + timedelta(seconds=seconds + skew)


def pino_http_pair(n: int = 30, seed: int = 7, *, counted: bool = False):
    """bff01 and auth01, express with pino-http, genReqId taking the x-request-id header
    (or a new UUID): req.log lines carry the serialized req with its id. ``counted``:
    pino-http's default genReqId, a per-process counter (1, 2, ...: the same ids on both
    hosts name different requests), the call carrying an x-correlation-id header."""
    bff, auth = [], []
    for k, t, a, b, c in _calls(n):
        rid = f"{random.Random(seed * 1000 + k).getrandbits(128):032x}"
        header = {"x-correlation-id": rid} if counted else {"x-request-id": rid}
        req = lambda host, url: {"id": k + 1 if counted else rid, "method": "POST", "url": url,  # noqa: E731
                                 "query": {}, "params": {}, "headers": {"host": f"{host}:3000", **header},
                                 "remoteAddress": "::ffff:10.0.0.5", "remotePort": 51544}
        bff.append(pino_line(_t(t), "calling auth", hostname="bff01", req=req("bff01", "/login")))
        auth.append(pino_line(_t(a, SKEW), "verifying token", hostname="auth01", req=req("auth01", "/token")))
        auth.append(pino_line(_t(b, SKEW), "request completed", hostname="auth01", req=req("auth01", "/token"),
                              res={"statusCode": 200}, responseTime=round((b - a) * 1000)))
        bff.append(pino_line(_t(c), "request completed", hostname="bff01", req=req("bff01", "/login"),
                             res={"statusCode": 200}, responseTime=round((c - t) * 1000)))
    return {"bff01/bff.log": bff, "auth01/auth.log": auth}


def ecs_pair(n: int = 30, seed: int = 8):
    """bff01 (ecs-pino-format, convertReqRes) calls auth01 (ecs-logging-python,
    extra={"http.request.id": ...}): both write ECS http.request.id."""
    bff, auth = [], []
    for k, t, a, b, c in _calls(n):
        rid = f"{random.Random(seed * 1000 + k).getrandbits(128):032x}"
        bff.append(ecs_pino_line(_t(t), "calling auth", host="bff01", request_id=rid))
        auth.append(ecs_python_line(_t(a, SKEW), "request started", request_id=rid, logger="auth.http"))
        auth.append(ecs_python_line(_t(b, SKEW), "request finished", request_id=rid, logger="auth.http"))
        bff.append(ecs_pino_line(_t(c), "auth answered", host="bff01", request_id=rid))
    return {"bff01/bff.log": bff, "auth01/auth.json": auth}


@pytest.mark.parametrize("scenario,key", [
    (pino_http_pair, "req.id"), (ecs_pair, "http.request.id"),
    # the request ids count per process: only the header the case names pairs anything
    (lambda: pino_http_pair(counted=True), "req.headers.x-correlation-id")], ids=["pino", "ecs", "header"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_nested_request_ids_pair_as_correlation_keys(tmp_path, scenario, key, newline):
    root = tmp_path / "ev"
    for name, lines in scenario().items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes((newline.join(lines) + newline).encode())
    (root / "case.yml").write_text(f"references: [bff01]\nreference_accuracy_s: 0.001\ncorrelation_keys: [{key}]\n")
    v = skewsleuth.investigate([root])
    # the case's key read the nested field on both hosts: its records nest, call by call
    ((keyed,),) = v.store.con.execute("SELECT count(DISTINCT label) FROM _messages WHERE label LIKE ?",
                                      [key + " %"]).fetchall()
    ((nested,),) = v.store.con.execute("SELECT count(*) FROM _message_pairs WHERE via = 'nested' AND label LIKE ?",
                                       [key + " %"]).fetchall()
    assert keyed == 30 and nested == 60
    (auth,) = next(h for h in v.to_dict()["hosts"] if h["host"].startswith("auth01"))["segments"]
    assert auth["offset_low_s"] <= SKEW <= auth["offset_high_s"] and auth["offset_high_s"] - auth["offset_low_s"] < 0.1
