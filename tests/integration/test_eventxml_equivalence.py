"""The event-XML reader's template fast path gives exactly what the parser gives.

The reference is the reader without templates (``eventxml.read(ctx, templates=False)``,
every event through defusedxml's ElementTree): the same EVENTS rows, record numbers,
quarantine rows and notes, on the synthetic corpus, on XML rendered from the real EVTX
samples (pretty-printed, double-quoted, as the ``evtx`` package writes it), and on
hostile events built by hypothesis (UserData among them, an ``<Event>`` nested in it).
Each event's JSON is also compared on its own.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from skewsleuth.sources import eventxml
from skewsleuth.errors import UnusableFile
from skewsleuth.sources.base import FileContext

sys.path.insert(0, str(Path(__file__).parent))
from conftest import mutate  # noqa: E402

NS = "http://schemas.microsoft.com/win/2004/08/events/event"


def _run(templates: bool, path: Path):
    ctx = FileContext(path=path, file_id=3, default_host="folder", timezone=ZoneInfo("UTC"))
    try:
        batches = list(eventxml.read(ctx, templates=templates))
    except UnusableFile as exc:
        return ("unusable", str(exc)), ctx.quarantined, ctx.notes
    table = pa.Table.from_batches(batches) if batches else None
    return (table.to_pylist() if table is not None else []), ctx.quarantined, ctx.notes


def assert_same(path: Path) -> int:
    new = _run(True, path)
    old = _run(False, path)
    assert new[0] == old[0], path
    assert new[1] == old[1], path
    assert new[2] == old[2], path
    return len(new[0]) if isinstance(new[0], list) else 0


def _events(text: str) -> list[str]:
    out = []
    for piece in text.split("</Event>")[:-1]:
        at = piece.find("<Event")
        if at >= 0:
            out.append(piece[at:] + "</Event>")
    return out


def assert_same_json(events: list[str]) -> int:
    """Each event alone: the template's JSON is the parser's, or the parser decides."""
    fast = eventxml._FastRenderer()
    hits = 0
    for text in events:
        got = fast(text)
        try:
            want = eventxml._render_json(text)
        except Exception:
            want = None
        if got is not None:
            hits += 1
            assert got == want, text
            # a template matched only events whose skeleton is its own
            assert fast.cache.get(eventxml._skeleton(text)) is not None, text
    return hits


@pytest.fixture(scope="module")
def evtx_xml(tmp_path_factory, evtx_dir):
    """Every record of the real EVTX samples as event XML: a stream and a document."""
    import evtx

    out = tmp_path_factory.mktemp("evtxml")
    files = []
    for f in sorted(evtx_dir.glob("*.evtx")):
        events = []
        try:
            for rec in evtx.PyEvtxParser(str(f)).records():
                data = rec["data"]
                events.append(data[data.find("<Event"):] if "<Event" in data else data)
        except Exception:
            pass  # the damaged samples: what was read before the damage
        if not events:
            continue
        stream = out / (f.stem + ".stream.xml")
        stream.write_text("\n".join(events) + "\n", encoding="utf-8")
        doc = out / (f.stem + ".doc.xml")
        doc.write_text('<?xml version="1.0" encoding="utf-8"?>\r\n<Events>\r\n' + "\r\n".join(events)
                       + "</Events>\r\n", encoding="utf-8")
        files += [stream, doc]
    assert files
    return files


def test_real_evtx_records_as_xml_read_the_same(evtx_xml):
    rows = sum(assert_same(p) for p in evtx_xml)
    assert rows > 10_000
    hits = sum(assert_same_json(_events(p.read_text(encoding="utf-8"))) for p in evtx_xml[::2])
    assert hits > 10_000  # the fast path is taken on real exports, not only on our own


def test_synthetic_corpus_reads_the_same(tmp_path):
    from synth.corpus import write_corpus

    truth = write_corpus(tmp_path / "c", 6, 6_000, formats=["eventxml"], incident=False, faults=0.5, seed=5)
    files = sorted(Path(truth.root).rglob("*.xml"))
    assert files
    assert sum(assert_same(p) for p in files) == truth.events
    assert sum(assert_same_json(_events(p.read_text())) for p in files) >= 0.99 * truth.events


def test_utf16_and_damaged_real_shapes_read_the_same(tmp_path, evtx_xml):
    text = evtx_xml[0].read_text(encoding="utf-8")[:200_000]
    p = tmp_path / "u16.xml"
    p.write_bytes(text.encode("utf-16"))
    assert_same(p)
    tokens = [b"<Event>", b"</Event>", b"<Event xmlns='x'>", b"<!DOCTYPE a [<!ENTITY e 'x'>]>", b"&e;", b"&#0;",
              b"&#x41;", b"]]>", b"<![CDATA[x<y]]>", b"<!-- c -->", b"\x00", b"\xff\xfe", b"'", b'"', b"&amp;"]
    rnd = random.Random(11)
    for k in range(40):
        q = tmp_path / f"m{k}.xml"
        q.write_bytes(mutate(text[:20_000].encode(), rnd, rnd.randrange(1, 12), tokens))
        assert_same(q)


# -- hostile values in real-shaped events -----------------------------------------

_HOSTILE = st.lists(
    st.sampled_from(list("aZ09 \t\n\r<>&;'\"#x=/\\%]]>-") + ["&amp;", "&lt;", "&#10;", "&#13;", "&#x20;",
                                                                     "&#0;", "&#xD800;", "&bogus;", "&quot;",
                                                                     "&apos;", "\x00", "\x01", "\x0b", "\x7f",
                                                                     "\x85", "\xa0", "\u2028", "\ufffe", "é",
                                                                     "²", "٣", "0", "007", "7000000013",
                                                                     "]]>", "<!--", "-->", "<![CDATA[", "%s",
                                                                     "www.w3.org/XML/1998/namespace"]),
    max_size=12).map("".join)


# UserData as AD FS (an <Event> of its own), TerminalServices and the Eventlog write it,
# and in a namespace that is itself a hostile value.
_USERDATA = ["", "<UserData><Event xmlns={q}http://schemas.microsoft.com/ActiveDirectoryFederationServices/2.0/Events{q}>"
                 "<EventData>{data}</EventData></Event></UserData>",
             "<UserData><EventXML xmlns={q}Event_NS{q}><User>{text}</User>{data}</EventXML></UserData>",
             "<UserData><LogFileCleared xmlns:auto-ns3={q}{attr}{q} xmlns={q}{attr}{q}>{data}</LogFileCleared></UserData>",
             "<UserData><Event xmlns={q}{attr}{q}><Event/>{data}</Event></UserData>"]


def _event(rid, name, text, attr, quote, data_names, unnamed, message, pretty, userdata):
    q = quote
    nl = "\n  " if pretty else ""
    data = "".join(f"{nl}<Data Name={q}{n}{q}>{v}</Data>" for n, v in data_names)
    data += "".join(f"{nl}<Data>{v}</Data>" for v in unnamed)
    body = userdata.format(q=q, data=data, text=text, attr=attr) if userdata else f"<EventData>{data}</EventData>"
    return (f"<Event xmlns={q}{NS}{q}>{nl}<System>{nl}<Provider Name={q}{name}{q} Guid={q}{attr}{q}/>"
            f"{nl}<EventID Qualifiers={q}{attr}{q}>{text}</EventID><Level>{text}</Level>"
            f"<TimeCreated SystemTime={q}2014-10-21T02:33:25.1234567Z{q}/><EventRecordID>{rid}</EventRecordID>"
            f"<Execution ProcessID={q}{attr}{q} ThreadID={q}1{q}/><Channel>{text}</Channel>"
            f"<Computer>{text}</Computer><Security UserID={q}{attr}{q}/></System>"
            f"{body}<RenderingInfo Culture={q}en{q}><Message>{message}</Message>"
            f"</RenderingInfo></Event>")


_EVENTS = st.builds(
    _event,
    rid=st.sampled_from(["1", "0012", "99999999999999999999", " 5 ", "x"]),
    name=st.sampled_from(["P", "P'", "P&amp;"]),
    text=_HOSTILE, attr=_HOSTILE, quote=st.sampled_from(["'", '"']),
    data_names=st.lists(st.tuples(st.sampled_from(["a", "b", "Data", "Binary", "x y"]), _HOSTILE), max_size=4),
    unnamed=st.lists(_HOSTILE, max_size=3), message=_HOSTILE, pretty=st.booleans(),
    userdata=st.sampled_from(_USERDATA))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_EVENTS, min_size=1, max_size=6), st.sampled_from(["\n", "", "junk", "<!-- c -->\r\n"]),
       st.booleans())
def test_hostile_events_read_the_same(tmp_path, events, sep, document):
    # Repeat each event so that templates are made once and then reused.
    body = sep.join(events + events)
    text = f"<?xml version='1.0'?>\n<Events>{body}</Events>" if document else body
    p = tmp_path / "h.xml"
    p.write_bytes(text.encode("utf-8", "surrogatepass"))
    assert_same(p)
    assert_same_json(events + events)
