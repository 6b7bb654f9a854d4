"""The timeline as Timesketch takes it in, end to end with Timesketch's own code.

``timesketch_import_client.ImportStreamer`` (what ``timesketch_importer`` and the API
client's upload use) reads the file ``skewsleuth timeline`` wrote and posts its events,
and ``timesketch.lib.utils.read_and_validate_csv`` / ``read_and_validate_jsonl`` (what the
server's upload task runs on a file it was given) read the file and what was posted.
A Timesketch server needs OpenSearch, PostgreSQL and Redis, which this machine does not
run: its upload endpoint (``POST /api/v1/upload/``) is a loopback HTTP server here that
keeps the posted ``events`` field and answers with the fields the client reads back
(timesketch ``api/v1/resources/upload.py``).
"""

from __future__ import annotations

import email.parser
import io
import json
import re
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from conftest import EVTX_DIR, run_cli
from support.timeline import HOSTILE, evidence  # noqa: F401

# the server package is installed without its ~50 pinned server requirements (scripts/test-all.sh)
from timesketch.lib import utils as ts_utils
from timesketch_api_client import client as ts_client, sketch as ts_sketch
from timesketch_import_client import importer


class _UploadEndpoint(BaseHTTPRequestHandler):
    """Keeps every multipart POST's ``events`` field, as Timesketch's upload resource reads
    ``request.form['events']``."""

    posts: list[dict] = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
        form = {part.get_param("name", header="content-disposition"): part.get_payload(decode=True).decode()
                for part in email.parser.BytesParser().parsebytes(head + body).get_payload()}
        type(self).posts.append(form)
        answer = json.dumps({"objects": [{"id": 1, "searchindex": {"index_name": "skewsleuth"}}],
                             "meta": {"task_id": "t1"}}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def timelines(evidence, tmp_path_factory):
    """The seed with hostile syslog messages and a real Security log: whole-number ids,
    rows with and without symptoms, text that looks like a formula or markup."""
    folder = Path(shutil.copytree(evidence, tmp_path_factory.mktemp("ts") / "ev"))
    (folder / "ws01").mkdir()
    shutil.copy(EVTX_DIR / "security.evtx", folder / "ws01" / "security.evtx")
    out = {}
    for fmt, name in (("timesketch", "timeline.csv"), ("timesketch-jsonl", "timeline.jsonl"),
                      ("jsonl", "reference.jsonl")):
        out[fmt] = folder.parent / name
        r = run_cli("timeline", str(folder), "--format", fmt, "--out", str(out[fmt]))
        assert r.returncode in (0, 1), r.stderr
    return out


def _import(path: Path) -> list[dict]:
    """What the import client posts for ``path``, as one list of events."""
    _UploadEndpoint.posts = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _UploadEndpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        api = ts_client.TimesketchApi(f"http://127.0.0.1:{server.server_port}", "analyst", create_session=False)
        api.set_session(requests.Session())
        with importer.ImportStreamer() as streamer:
            streamer.set_sketch(ts_sketch.Sketch(1, api))
            streamer.set_timeline_name("skewsleuth")
            streamer.add_file(str(path))
    finally:
        server.shutdown()
        server.server_close()
    assert _UploadEndpoint.posts and all(p["name"] == "skewsleuth" for p in _UploadEndpoint.posts)
    return [json.loads(line) for p in _UploadEndpoint.posts for line in p["events"].splitlines() if line.strip()]


def _server_reads(events: list[dict] | None = None, path: Path | None = None) -> list[dict]:
    """Timesketch's upload task (``lib/tasks.py`` ``run_csv_jsonl``) on what it was given:
    events the import client posted are read as JSON Lines from a ``StringIO``; a file
    uploaded whole is opened with ``open(path, "r", encoding="utf-8", errors="replace")``
    and read by its extension's reader."""
    if events is not None:
        return list(ts_utils.read_and_validate_jsonl(io.StringIO("\n".join(json.dumps(e) for e in events))))
    read = ts_utils.read_and_validate_csv if path.suffix == ".csv" else ts_utils.read_and_validate_jsonl
    with open(path, "r", encoding="utf-8", errors="replace") as handle:
        return list(read(handle))


def _reference(timelines) -> list[dict]:
    return [json.loads(line) for line in timelines["jsonl"].read_text().splitlines()]


def test_import_client_posts_the_jsonl_timeline_with_whole_ids_text_as_logged_and_signature_tags(timelines):
    reference = _reference(timelines)
    posted = _import(timelines["timesketch-jsonl"])
    assert len(posted) == len(reference) > 4000
    assert [e["message"] for e in posted] == [r["message"] for r in reference]       # unchanged, no ' prefix
    assert set(HOSTILE) <= {e["message"] for e in posted}
    assert any("\r\n" in e["message"] for e in posted)                              # EVTX's CRLF kept
    ids = [e["event_id"] for e in posted if e.get("event_id") is not None]
    assert ids == [r["event_id"] for r in reference if r.get("event_id") is not None]
    assert len(ids) > 2000 and all(type(i) is int for i in ids)
    assert all(type(e["record_id"]) is int for e in posted if e.get("record_id") is not None)
    tagged = [e for e in posted if e["tag"]]
    assert tagged and all(isinstance(e["tag"], list) for e in tagged)
    tags = {t for e in tagged for t in e["tag"]}
    assert tags == {s for r in reference for s in r["symptoms"]} and all(re.fullmatch(r"[A-Z][A-Z0-9_]+", t) for t in tags)
    assert any(e["timestamp_desc"].startswith("Corrected by skewsleuth: ") for e in posted)

    stored = _server_reads(events=posted)                 # the server keeps what was posted
    assert [s["message"] for s in stored] == [r["message"] for r in reference]
    assert [s["event_id"] for s in stored] == [e["event_id"] for e in posted]
    assert [s["tag"] for s in stored] == [r["symptoms"] for r in reference]
    assert [s["timestamp"] for s in stored] == [e["timestamp"] for e in posted]


def test_jsonl_uploaded_whole_is_read_as_written(timelines):
    reference = _reference(timelines)
    stored = _server_reads(path=timelines["timesketch-jsonl"])
    assert [s["message"] for s in stored] == [r["message"] for r in reference]
    assert all(type(s["event_id"]) is int for s in stored if s.get("event_id") is not None)
    assert [s["tag"] for s in stored] == [r["symptoms"] for r in reference]


def test_csv_timeline_reaches_the_server_with_every_row_its_tags_and_ids_as_pandas_reads_them(timelines):
    """The CSV path, where pandas reads the file (in the client, and in the server for a
    file uploaded whole). Every row arrives with its tags; the ids come as floats because
    a syslog row's empty ``event_id`` cell makes the column float (``timesketch-jsonl``
    keeps them whole); and the web upload opens the file with universal newlines, so a
    CRLF inside a message (EVTX's PrivilegeList) arrives as LF."""
    reference = _reference(timelines)
    posted = _import(timelines["timesketch"])
    assert [e["message"] for e in posted] == [r["message"] for r in reference]
    assert [json.loads(e["tag"]) for e in posted] == [r["symptoms"] for r in reference]
    stored = _server_reads(events=posted)
    assert [s["tag"] for s in stored] == [r["symptoms"] for r in reference]
    assert {type(e["event_id"]) for e in posted if e["event_id"] is not None} == {float}

    uploaded = _server_reads(path=timelines["timesketch"])
    assert [s["message"] for s in uploaded] == [r["message"].replace("\r\n", "\n") for r in reference]
    assert [s["tag"] for s in uploaded] == [r["symptoms"] for r in reference]
    assert [s["event_id"] for s in uploaded if s.get("event_id") is not None] == \
        [float(r["event_id"]) for r in reference if r.get("event_id") is not None]
