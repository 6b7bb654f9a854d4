"""Windows event XML exports as events.

Reads the two shapes Windows produces:

* Event Viewer "Save as XML" and ``wevtutil epl``-style exports: an ``<Events>`` root
  holding ``<Event>`` elements;
* ``wevtutil qe /f:xml`` / ``/f:RenderedXml`` and ``Get-WinEvent ... | ToXml()``
  output: a bare stream of ``<Event>`` elements with no root.

Yields one event per ``<Event>`` record: its System fields, its EventData or UserData
as ``data``, and the ``RenderingInfo/Message`` of RenderedXml, when present, as its
message. Events are rendered into the JSON shape of the ``evtx`` package and share its
normalisation (:mod:`.winevent`), so that a record reads the same from an .evtx and
from its XML where the XML can tell: UserData's namespace declarations are among its
element's attributes, and a ``<Data>`` is read by its Name wherever it stands (AD FS
writes its fields as ``<UserData><Event xmlns=".../ActiveDirectoryFederationServices/
2.0/Events"><EventData><Data>``). What XML cannot tell is left as text: the type of a
value (the evtx package writes a boolean or a number typed in the .evtx as such) and
repeated elements (a list here, numbered keys there).

A record ends at its own ``</Event>``: an ``<Event>`` inside it in another namespace
nests (AD FS's above; UserData holds only elements of other namespaces), one in the
record's own namespace opens the next record and the first is quarantined as cut
short. Each record is read on its own, so one damaged record costs only itself:
events of a shape already seen are filled into that shape's JSON template without a
parse (see "The fast path" below), every other one goes through the parser.
``read(ctx, templates=False)`` puts every event through the parser: the reference
the fast path must equal.
DTDs and entity declarations are refused (defusedxml) and the region that carries them
is quarantined: an event log has no business declaring entities, and expanding them is
how XML bombs and external-entity reads work.

References: Microsoft, "Event Schema" (``EventType``, ``UserDataType``,
``RenderingInfoType``); "wevtutil" command reference; defusedxml documentation;
W3C, "Namespaces in XML 1.0" (default namespace scope, attribute uniqueness);
https://github.com/omerbenamram/evtx, ``src/json_output.rs`` (the JSON rendering:
``<Data>`` by element name, attributes as written).
"""

from __future__ import annotations

import json
import re
from operator import itemgetter
from typing import Any, Iterator
from xml.etree.ElementTree import Element, TreeBuilder

import pyarrow as pa
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser, ParseError, fromstring

from ..errors import UnusableFile
from .base import BATCH_ROWS, FileContext
from .contract import Source
from .winevent import FIELDS_MESSAGE_SQL, normalize

FORMAT = "eventxml"

# A DOCTYPE is allowed here only so that such a file is recognised, read, and its
# declarations quarantined, rather than rejected as an unknown format.
_HEAD = re.compile(rb"^\s*(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*)*"
                   rb"(?:<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>\s*)?(?:<!--.*?-->\s*)*<(?:Events|Event)[\s>/]", re.S)
_EVENT_OPEN = re.compile(r"<Event[\s>]")
_EVENT_CLOSE = re.compile(r"</Event\s*>")
# Whichever comes first after a record opens, its end tag or another <Event> (the one
# scan of the record that the usual case needs; neither can start inside the other).
_EVENT_NEXT = re.compile(_EVENT_CLOSE.pattern + "|" + _EVENT_OPEN.pattern)
# The rest of a start tag, its attributes read whole (a '>' may stand in a value):
# group 1 the attributes, group 2 "/" when the element is empty.
_TAG_REST = re.compile(r"""((?:\s+[^\s=<>/]+\s*=\s*(?:'[^'<]*'|"[^"<]*"))*)\s*(/?)>""")
_ATTR = re.compile(r"""\s+([^\s=<>/]+)\s*=\s*(?:'([^'<]*)'|"([^"<]*)")""")
_TAG = re.compile(r"""<(/?)[^\s<>/!?]+""" + _TAG_REST.pattern)
_DECLARATION = re.compile(r"<!(?:DOCTYPE|ENTITY)", re.I)
# What may stand between events without being a record: the prolog, the <Events>
# wrapper, comments and white space.
_FILLER = re.compile(r"^(?:\s+|<\?xml[^>]*\?>|</?Events(?:\s[^>]*)?>|<!--.*?-->)*$", re.S)
_CHUNK = 1 << 20


def sniff(head: bytes) -> bool:
    if head.startswith(b"\xff\xfe") or head.startswith(b"\xfe\xff"):
        try:
            head = head.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError:
            return False
    return bool(_HEAD.match(head))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _node(el: Element) -> Any:
    """Element -> the evtx package's JSON rendering (attributes, #text, children)."""
    out: dict[str, Any] = {}
    if el.attrib:
        out["#attributes"] = {_local(k): v for k, v in el.attrib.items()}
    unnamed: list[str] = []
    for child in el:
        key = _local(child.tag)
        if key == "Data":
            # The evtx package reads a <Data> by its tag wherever it stands, so the
            # <EventData> AD FS nests in its <UserData> reads as the record's own does.
            key, value = _data(child)
            if key is None:
                unnamed.append(value)
                continue
        else:
            value = _node(child)
        if key in out:
            prev = out[key]
            out[key] = (prev if isinstance(prev, list) else [prev]) + [value]
        else:
            out[key] = value
    if unnamed:
        out["Data"] = _unnamed(unnamed)
    text = (el.text or "").strip()
    if not out:
        return _scalar(text) if text else None
    if text:
        out["#text"] = _scalar(text)
    return out


def _scalar(text: str) -> Any:
    return int(text) if text.isdigit() and len(text) < 19 else text


def _data(el: Element) -> tuple[str | None, Any]:
    """A <Data> as the evtx package renders it: (its Name, its value), or (None, its
    text as it stands) when it has no Name."""
    text = el.text or ""
    name = el.attrib.get("Name")
    if name is None:
        return None, text
    stripped = text.strip()
    return name, _scalar(stripped) if stripped else text


def _unnamed(texts: list[str]) -> dict[str, Any]:
    # Unnamed <Data> are gathered under "Data", as the evtx package renders them.
    return {"#text": texts if len(texts) > 1 else texts[0]}


def _event_data(el: Element) -> dict[str, Any]:
    # Named <Data Name="X">v</Data> become {"X": v}; unnamed ones a list under "Data".
    named: dict[str, Any] = {}
    unnamed: list[str] = []
    for child in el:
        tag = _local(child.tag)
        if tag == "Data":
            key, value = _data(child)
            if key is None:
                unnamed.append(value)
            else:
                named[key] = value
        else:
            named[tag] = _node(child)
    if unnamed:
        named["Data"] = _unnamed(unnamed)
    return named


def _render(root: Element) -> dict[str, Any]:
    event: dict[str, Any] = {}
    for part in root:
        name = _local(part.tag)
        if name == "EventData":
            event[name] = _event_data(part)
        elif name == "RenderingInfo":
            info = {_local(c.tag): (c.text or "") for c in part if len(c) == 0}
            event[name] = info
        else:
            event[name] = _node(part)
    return {"Event": event}


def _decode(head: bytes) -> str:
    if head.startswith(b"\xff\xfe") or head.startswith(b"\xfe\xff"):
        return "utf-16"
    return "utf-8"


def read(ctx: FileContext, *, templates: bool = True) -> Iterator[pa.RecordBatch]:
    """The file's events. ``templates=False``: every event through the guarded parser,
    none filled into a template."""
    with open(ctx.path, "rb") as fh:
        head = fh.read(4)
        if not head:
            raise UnusableFile("empty file")
        fh.seek(0)
        encoding = _decode(head)
        import codecs

        reader = codecs.getreader(encoding)(fh, errors="replace")
        yield from _read_stream(reader, ctx, _FastRenderer() if templates else None)


def _render_json(text: str) -> str:
    """One ``<Event>`` element -> its JSON text, through the guarded parser (the reference)."""
    if text.find("xmlns", text.find(">")) < 0:
        # Nothing below the root declares a namespace (the usual record): the plain tree.
        root = fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    else:
        parser = DefusedXMLParser(target=_Declaring(), forbid_dtd=True, forbid_entities=True, forbid_external=True)
        parser.feed(text)
        root = parser.close()
    return json.dumps(_render(root), ensure_ascii=False)


class _Declaring(TreeBuilder):
    """A tree whose elements keep their namespace declarations among their attributes
    (``xmlns``, ``xmlns:p``), where the evtx package shows them: the UserData of
    ``<EventXML xmlns="Event_NS">`` renders as it does from the .evtx."""

    def __init__(self) -> None:
        super().__init__()
        self._declared: dict[str, str] = {}

    def start_ns(self, prefix: str, uri: str) -> None:
        self._declared["xmlns:" + prefix if prefix else "xmlns"] = uri

    def start(self, tag: str, attrs: dict[str, str]) -> Element:
        if self._declared:
            attrs, self._declared = {**self._declared, **attrs}, {}
        return super().start(tag, attrs)


# ---------------------------------------------------------------------------------
# The fast path: events of one shape share one template.
#
# Exports repeat a few shapes (one per provider and event id) with other values. An
# event's *skeleton* is its text with every value (attribute values but names, and
# element text with no white space at either end) replaced by a placeholder of its
# kind. The first event of a skeleton is rendered by the guarded parser with a numeric
# marker in place of each value; the JSON that comes out, with the markers cut out, is
# the skeleton's template, and a regular expression made from the skeleton matches the
# later events of that shape and hands over their values, which are JSON-escaped into
# the template's holes: one C-level match and a join per event, no parse, no tree.
# This is exact because a value, as matched, cannot change how the rest is parsed (no
# '<', no raw '&', no quote that ends it, no white space a parser folds or strips, no
# character XML cannot carry); what depends on a value itself is done here as the
# parser does it: line ends inside element text folded to "\n", entity and character
# references decoded, digits read as a number (_scalar), names that become keys
# checked not to collide. Anything else (a skeleton with comments, CDATA, processing
# instructions or a DTD, "]]>", a reserved namespace, a prefixed attribute (whose
# namespace, a value, decides whether two of them are one attribute twice), a
# reference this decoder does not know) takes the guarded parser,
# which also decides what is malformed. Namespace declarations are values like any
# other: the parser shows them, it does not compare them. The test
# tests/integration/test_eventxml_equivalence.py holds the templates to the parser
# (``read(ctx, templates=False)``).

# Values, by kind; each pass runs on what the passes before it left, with the values
# they took replaced by their placeholder ("\x01".."\x04"), so none can match across one.
_PASSES = (
    # element text that reads as a number (_scalar): written in the JSON as it is
    (re.compile(r">(0|[1-9][0-9]{0,17})(?=<)"), ">\x01"),
    # other element text, without white space at either end (the parser strips it); line
    # ends inside it are folded to "\n" by fill() as the parser folds them, so a CRLF
    # export's multi-line messages are values like any other, not skeleton
    (re.compile(">([^<\\s\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff](?:[^<\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]*[^<\\s\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff])?)(?=<)"), ">\x02"),
    # attribute values; the parser folds tabs and line ends in them, so those stay out.
    # Names (Provider/@Name, Data/@Name) stay in the skeleton: they tell events apart
    # early, and a Data name is a key of the JSON, whose collisions the parser resolves.
    (re.compile("(?<!Name)='([^'<&\t\n\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]+)(?=')"), "='\x03"),
    (re.compile('(?<!Name)="([^"<&\t\n\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]+)(?=")'), '="\x04'),
)
_HOLE = re.compile("[\x01-\x04]")
# A prefixed attribute (not a namespace declaration) in a start tag; read past the tag's
# end, which only ever refuses a template too many.
_PREFIXED = re.compile(r"<[^<!?/][^<]*?\s(?!xmlns:)[^\s=<>/:]+:[^\s=<>/]*\s*=")
_REF = re.compile(r"&(?:(lt|gt|amp|apos|quot)|#([0-9]+)|#x([0-9a-fA-F]+));")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "apos": "'", "quot": '"'}
_MARK = "7{:09d}3"
_MARKS = re.compile(r"7\d{9}3")
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"(: )?|\b7\d{9}3\b')
_CACHE_LIMIT = 4096
_RECENT = 8
_encode = json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) writes for a str


def _unref(value: str) -> str | None:
    """Entity and character references decoded as expat does; None if it would refuse one."""
    if "&" in _REF.sub("", value):
        return None
    out = _REF.sub(_one_ref, value)
    return None if "\x00" in out else out


def _one_ref(m: re.Match) -> str:
    if m.group(1):
        return _NAMED[m.group(1)]
    code = int(m.group(2)) if m.group(2) else int(m.group(3), 16)
    if code in (9, 10, 13) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or 0x10000 <= code <= 0x10FFFF:
        return chr(code)
    return "\x00"  # not an XML character: the parser refuses it


# How each kind of hole is matched when an event is checked against a template: the
# same patterns as the passes, so a template matches exactly the events the passes give
# its skeleton (element text is a number only if the number pattern takes it first).
_GROUPS = {
    "\x01": "(0|[1-9][0-9]{0,17})(?=<)",
    "\x02": "(?!(?:0|[1-9][0-9]{0,17})<)(" + _PASSES[1][0].pattern[2:],
    "\x03": "(" + _PASSES[2][0].pattern[12:],
    "\x04": "(" + _PASSES[3][0].pattern[12:],
}


def _getter(indexes: list[int]):
    """itemgetter that always returns a tuple."""
    if not indexes:
        return lambda values: ()
    if len(indexes) == 1:
        i = indexes[0]
        return lambda values: (values[i],)
    return itemgetter(*indexes)


class _Template:
    """The JSON of one skeleton: its pieces with a slot for each value it shows, and
    the regular expression that matches exactly the events of that skeleton."""

    __slots__ = ("regex", "fmt", "plain", "take", "order", "texts", "holes", "names", "literal_keys", "scalars", "simple")

    def __init__(self, skeleton: str, pieces: list[str], holes: list[tuple[int, int]], keys: list[int],
                 literal_keys: set[str]):
        kinds = _HOLE.findall(skeleton)
        parts = _HOLE.split(skeleton)
        self.regex = re.compile("".join(re.escape(p) + (_GROUPS[k] if n < len(kinds) else "")
                                        for n, (p, k) in enumerate(zip(parts, kinds + [""]))), re.S)
        # The JSON's pieces with a slot between each two for a value: "".join of a copy
        # with the values put in costs half what a %-format of 20-odd values does.
        self.fmt = _slots(pieces)
        # when no value needs JSON escaping: strings' quotes are the template's
        quoted = [how == 0 or (how == 2 and kinds[i] != "\x01") for i, how in holes]
        self.plain = _slots([('"' if n and quoted[n - 1] else "") + p + ('"' if n < len(holes) and quoted[n] else "")
                             for n, p in enumerate(pieces)])
        self.holes = holes            # (value index, how): 0 a whole JSON string, 1 inside one, 2 a _scalar
        # Values are handed over as given, then JSON-encoded: numbers are taken as given
        # (as _scalar writes them, or inside a string whose quotes the template holds).
        n = len(kinds)
        self.take = _getter([i if kinds[i] == "\x01" else n + i for i, _ in holes])
        self.order = _getter([i for i, _ in holes])
        self.texts = [i for i, k in enumerate(kinds) if k == "\x02"]
        self.names = _getter(keys) if keys else None   # values that become object keys
        self.literal_keys = literal_keys
        # text that _scalar reads, and that could be a number _scalar rewrites ("007")
        self.scalars = _getter([i for i, how in holes if how == 2 and kinds[i] != "\x01"])
        # The usual case: numbers written as they are, every other value a whole string.
        self.simple = all(how != 1 or kinds[i] == "\x01" for i, how in holes)

    def fill(self, values: tuple[str, ...], text: str) -> str | None:
        if self.names is not None:
            names = self.names(values)
            if len(set(names)) != len(names) or not self.literal_keys.isdisjoint(names):
                return None  # two names collide: the parser's dict would keep one
        plain = not ("\\" in text or '"' in text or "\n" in text or "\t" in text or "\r" in text)
        if "\r" in text:
            # XML's end-of-line handling, before references are decoded (a &#13; stays)
            folded = list(values)
            for i in self.texts:
                if "\r" in folded[i]:
                    folded[i] = folded[i].replace("\r\n", "\n").replace("\r", "\n")
            values = tuple(folded)
        if "&" in text:
            # only element text may hold references (attribute values with one are skeleton)
            decoded = list(values)
            for i in self.texts:
                v = decoded[i]
                if "&" in v:
                    v = decoded[i] = _unref(v)
                    if v is None:
                        return None
                    plain = False
            values = tuple(decoded)
            for v in self.scalars(values):
                if not v or v.strip() != v:
                    return None  # a reference to white space: the parser strips it
        if self.simple and not any(map(str.isdigit, self.scalars(values))):
            if plain:
                return _filled(self.plain, self.order(values))
            return _filled(self.fmt, self.take(values + tuple(map(_encode, values))))
        out = []
        for i, how in self.holes:
            v = values[i]
            if how == 2 and v.isdigit() and len(v) < 19:
                try:
                    out.append(str(int(v)))
                except ValueError:
                    return None  # a digit int() cannot read: the parser's error
            elif how == 1:
                out.append(_encode(v)[1:-1])
            else:
                out.append(_encode(v))
        return _filled(self.fmt, out)


def _slots(pieces: list[str]) -> list[str]:
    """``pieces`` with an empty slot between each two, for _filled."""
    out = [""] * (2 * len(pieces) - 1)
    out[0::2] = pieces
    return out


def _filled(slots: list[str], values: tuple[str, ...] | list[str]) -> str:
    out = slots.copy()  # a template is shared: its own list stays as it is
    out[1::2] = values
    return "".join(out)


def _skeleton(text: str) -> str:
    for pattern, hole in _PASSES:
        parts = pattern.split(text)
        if len(parts) > 1:
            text = hole.join(parts[::2])
    return text


def _compile(skeleton: str) -> _Template | None:
    if "<!" in skeleton or "<?" in skeleton or _MARKS.search(skeleton):
        return None  # comments, CDATA, DTD, processing instructions: the parser's business
    if _PREFIXED.search(skeleton):
        return None  # p:a and q:a are one attribute twice when p and q name one namespace
    parts = _HOLE.split(skeleton)
    marks = [_MARK.format(k) for k in range(len(parts) - 1)]
    marked = "".join(p + m for p, m in zip(parts, marks + [""]))
    try:
        rendered = _render_json(marked)
    except Exception:
        return None
    kinds = _HOLE.findall(skeleton)
    index = {m: k for k, m in enumerate(marks)}
    pieces: list[str] = []
    holes: list[tuple[int, int]] = []
    keys: list[int] = []
    literal_keys: set[str] = set()
    last = 0
    for tok in _JSON_TOKEN.finditer(rendered):
        text = tok.group(0)
        if text[0] != '"':
            pieces.append(rendered[last:tok.start()])
            holes.append((index[text], 2))
            last = tok.end()
            continue
        is_key = tok.group(1) is not None
        body = text[:-2] if is_key else text
        found = [m for m in _MARKS.findall(body) if m in index]
        if not found:
            if is_key:
                literal_keys.add(json.loads(body))
            continue
        if len(found) == 1 and body == '"' + found[0] + '"' and kinds[index[found[0]]] != "\x01":
            pieces.append(rendered[last:tok.start()])
            holes.append((index[found[0]], 0))
            last = tok.start() + len(body)
            if is_key:
                keys.append(index[found[0]])
            continue
        if is_key:
            return None  # a name made of a number, or of a value and more: left to the parser
        for m in _MARKS.finditer(body):
            if m.group(0) in index:
                pieces.append(rendered[last:tok.start() + m.start()])
                holes.append((index[m.group(0)], 1))
                last = tok.start() + m.end()
    pieces.append(rendered[last:])
    return _Template(skeleton, pieces, holes, keys, literal_keys)


class _FastRenderer:
    """Event text -> JSON by template, None when the guarded parser must decide."""

    def __init__(self) -> None:
        self.cache: dict[str, _Template | None] = {}
        # Templates last used, most recent first, by the event's number of tags: the
        # templates an event is tried against before its skeleton is worked out.
        self.recent: dict[int, list[_Template]] = {}

    def __call__(self, text: str) -> str | None:
        if "]]>" in text or "www.w3.org/" in text:
            return None
        tags = text.count("<")
        recent = self.recent.get(tags)
        if recent is None:
            recent = self.recent[tags] = []
        for n, tmpl in enumerate(recent):
            m = tmpl.regex.fullmatch(text)
            if m is not None:
                if n:
                    recent.insert(0, recent.pop(n))
                return tmpl.fill(m.groups(), text)
        skeleton = _skeleton(text)
        tmpl = self.cache.get(skeleton, False)
        if tmpl is False:
            if len(self.cache) >= _CACHE_LIMIT:
                self.cache.clear()
                self.recent.clear()
            tmpl = self.cache[skeleton] = _compile(skeleton)
        if tmpl is None:
            return None
        m = tmpl.regex.fullmatch(text)
        if m is None:
            return None
        recent.insert(0, tmpl)
        del recent[_RECENT:]
        return tmpl.fill(m.groups(), text)


def _extent(buf: str, m: re.Match, eof: bool) -> tuple[bool, int] | None:
    """Where the record whose start tag ``m`` found ends: (True, just past its own end
    tag), (False, where the next record opens or the text ends) if it is cut short
    first, or None if ``buf`` ends before that can be told.

    An ``<Event>`` inside the record nests (AD FS writes one in its UserData, in its own
    namespace): it opens the next record only if it is in the record's own namespace,
    since the Event Schema's UserData holds elements of other namespaces alone.
    """
    depth, pos, home = 1, m.end(), None
    while True:
        close = _EVENT_CLOSE.search(buf, pos)
        inner = _EVENT_OPEN.search(buf, pos, close.start() if close else len(buf))
        if inner is None:
            if close is None:
                return (False, len(buf)) if eof else None
            depth -= 1
            pos = close.end()
            if depth == 0:
                return True, pos
            continue
        tag = _TAG_REST.match(buf, inner.end() - 1)
        if tag is None and not eof and buf.find("<", inner.end()) < 0:
            return None  # its start tag may end in the next chunk (no '<' stands in one)
        if tag is not None and tag.group(2):
            pos = tag.end()  # an empty <Event/>: nothing to close
            continue
        if home is None:
            home = _namespace(buf, m.start(), m.start(), _TAG_REST.match(buf, m.end() - 1))
        if tag is None or _namespace(buf, m.start(), inner.start(), tag) == home:
            return False, inner.start()
        depth += 1
        pos = tag.end()


def _namespace(buf: str, start: int, at: int, tag: re.Match | None) -> str:
    """The default namespace of the element whose start tag opens at ``at`` (``tag``:
    the rest of that tag), as declared from the record opening at ``start`` on."""
    own = _declared(tag.group(1)) if tag is not None else None
    if own is not None:
        return own
    scope = [""]
    for t in _TAG.finditer(buf, start, at):
        if t.group(1):
            if len(scope) > 1:
                scope.pop()
        elif not t.group(3):
            declared = _declared(t.group(2))
            scope.append(scope[-1] if declared is None else declared)
    return scope[-1]


def _declared(attributes: str) -> str | None:
    """The default namespace a start tag's attributes declare, if they declare one."""
    for a in _ATTR.finditer(attributes):
        if a.group(1) == "xmlns":
            return a.group(2) if a.group(2) is not None else a.group(3)
    return None


_RECORD_ID = re.compile(r"<(?:\w+:)?EventRecordID>\s*(\d{1,18})\s*</")


def _record_id(text: str) -> int | None:
    """The EventRecordID of an event that cannot be read whole, where it can be seen:
    the number a reader finds the event by in Event Viewer."""
    m = _RECORD_ID.search(text)
    return int(m.group(1)) if m else None


def _read_stream(reader: Any, ctx: FileContext, fast: _FastRenderer | None) -> Iterator[pa.RecordBatch]:
    nos: list[int] = []
    ids: list[int | None] = []
    jsons: list[str] = []
    ordinal = 0
    buf = ""
    eof = False

    def between(text: str) -> None:
        nonlocal ordinal
        if _FILLER.match(text):
            return
        if _DECLARATION.search(text):
            ctx.quarantine(ordinal, "DTD or entity declaration refused", text.strip())
        else:
            ctx.quarantine(ordinal, "text outside any <Event> element", text.strip())
        ordinal += 1

    while True:
        if not eof:
            chunk = reader.read(_CHUNK)
            if chunk:
                buf += chunk
            else:
                eof = True
        pos = 0
        while True:
            m = _EVENT_OPEN.search(buf, pos)
            if not m:
                break
            first = _EVENT_NEXT.search(buf, m.end())
            if first is not None and first.group().startswith("</"):
                closed, stop = True, first.end()  # the usual record: no <Event> inside it
            else:
                extent = _extent(buf, m, eof)
                if extent is None:
                    break  # the rest of this event is in the next chunk
                closed, stop = extent
            if m.start() > pos:
                gap = buf[pos:m.start()]
                if not gap.isspace():  # (white space is filler: the usual line end between two)
                    between(gap)
            pos = stop
            if not closed:
                # An <Event> that never closes before the next one opens: truncated.
                ctx.quarantine(ordinal, "truncated <Event> element (no </Event>)", buf[m.start():stop],
                               _record_id(buf[m.start():stop]))
                ordinal += 1
                continue
            text = buf[m.start():stop]
            rendered = fast(text) if fast is not None else None
            if rendered is None:
                try:
                    rendered = _render_json(text)
                except (ParseError, DefusedXmlException, ValueError) as exc:
                    ctx.quarantine(ordinal, f"malformed event XML: {exc}", text, _record_id(text))
                    ordinal += 1
                    continue
            nos.append(ordinal)
            ids.append(None)
            jsons.append(rendered)
            ordinal += 1
            if len(nos) >= BATCH_ROWS:
                batch = normalize(nos, ids, jsons, ctx, FORMAT)
                nos, ids, jsons = [], [], []
                if batch is not None:
                    yield batch
        buf = buf[pos:]
        if eof:
            break
    if buf.strip():
        between(buf)
    batch = normalize(nos, ids, jsons, ctx, FORMAT)
    if batch is not None:
        yield batch


# --- what later stages need of these records (see .contract) ---------------------------------

SOURCE = Source(FORMAT, platform="windows", windows_events=True, message_sql=FIELDS_MESSAGE_SQL)
