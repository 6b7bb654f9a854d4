"""Reading text logs: what every text source shares.

Encoding (a BOM, or the byte pattern of UTF-16 without one), decoding a file's head
for sniffers, the first line of a head, JSON Lines values, and the file's lines
decoded once per block of ``BLOCK`` bytes (``text_blocks`` as one string per block,
``line_blocks`` as lists of lines). Used by the syslog, SIPStack, journald, krb5
trace and application-log readers.
"""

from __future__ import annotations

import codecs
import json
import os
import re
from typing import Any, Iterator

from ..errors import UnusableFile
from .base import FileContext

BLOCK = 1 << 20
# A "line" longer than this is cut: binary junk without newlines must not be held
# whole in memory.
MAX_LINE = 1 << 20

EVTX_MAGIC = b"ElfFile\x00"
XML_STARTS = ("<?xml", "<Event")  # "<Events" too


def detect_encoding(head: bytes) -> tuple[str, int]:
    """Codec and BOM length of a text log: UTF-8 unless a BOM or the byte pattern of
    UTF-16 says otherwise (Windows tools write UTF-16LE, sometimes without a BOM)."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8", 3
    if head.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le", 2
    if head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be", 2
    sample = head[:512]
    half = len(sample) // 2
    if half >= 8:
        even_zero, odd_zero = sample[0::2].count(0), sample[1::2].count(0)
        if odd_zero >= 0.9 * half and even_zero <= 0.1 * half:
            return "utf-16-le", 0
        if even_zero >= 0.9 * half and odd_zero <= 0.1 * half:
            return "utf-16-be", 0
    return "utf-8", 0


def decode_head(head: bytes) -> str:
    """The first bytes of a file as text, for sniffers (never raises)."""
    enc, skip = detect_encoding(head)
    return head[skip:].decode(enc, "replace")


def first_line(text: str) -> tuple[str | None, bool]:
    """The first non-blank line of ``text`` (without its line end) and whether it was
    terminated (False when the head cut it short)."""
    pos, n = 0, len(text)
    while pos < n:
        end = text.find("\n", pos)
        line = text[pos:] if end < 0 else text[pos:end]
        if line.strip():
            return line.rstrip("\r"), end >= 0
        if end < 0:
            break
        pos = end + 1
    return None, False


_LONE_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


def json_line(line: str, loads=json.loads):
    """One value of a JSON Lines file. A lone surrogate escape (invalid UTF-16, which
    Python decodes but UTF-8 cannot store) becomes U+FFFD. Raises ValueError or
    RecursionError."""
    obj = loads(line)
    if _LONE_SURROGATE.search(line) is not None:
        text = json.dumps(obj, ensure_ascii=False)
        obj = loads(text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace"))
    return obj


CUT_SHORT = object()   # first_json_line: the line did not parse (perhaps cut by the head)


def first_json_line(head: bytes) -> tuple[str, bool, Any] | None:
    """For the JSON Lines sniffers: the first non-blank line of a head that starts like
    a JSON object, whether it was terminated, and its value (``CUT_SHORT`` when it does
    not parse). None when the head is binary EVTX or does not start with ``{``."""
    if head.startswith(EVTX_MAGIC):
        return None
    line, terminated = first_line(decode_head(head))
    if line is None or not line.strip().startswith("{"):
        return None
    line = line.strip()
    try:
        return line, terminated, json.loads(line)
    except (ValueError, RecursionError):
        return line, terminated, CUT_SHORT


def file_size(ctx: FileContext) -> int:
    """The file's size in bytes; 0 when it cannot be read (its reader says why)."""
    try:
        return os.stat(ctx.path).st_size
    except OSError:
        return 0


def text_blocks(ctx: FileContext, max_line: int = MAX_LINE) -> Iterator[str]:
    """The file's lines, decoded once per block of ``BLOCK`` bytes, as one string per
    block: the block's lines joined by ``\\n`` (``line_blocks`` splits it). A line
    that grows past ``max_line`` characters without ending is cut at the block
    boundary where it does, and its rest read as further lines.

    Raises UnusableFile when the file cannot be opened or is empty; a read error
    later on is quarantined (record_no None) and ends the stream.
    """
    try:
        f = open(ctx.path, "rb")
    except OSError as exc:
        raise UnusableFile(f"cannot open: {exc.strerror or exc}") from None
    with f:
        try:
            chunk = f.read(BLOCK)
        except OSError as exc:
            raise UnusableFile(f"cannot read: {exc.strerror or exc}") from None
        if not chunk:
            raise UnusableFile("empty file")
        enc, skip = detect_encoding(chunk)
        decoder = codecs.getincrementaldecoder(enc)("replace")
        chunk = chunk[skip:]
        pending = ""
        while True:
            text = decoder.decode(chunk, final=not chunk)
            if pending:
                text = pending + text
            if "\r" in text:
                text = text.replace("\r\n", "\n")
            cut = text.rfind("\n")
            body: str | None = None
            if cut >= 0:
                body, pending = text[:cut], text[cut + 1:]
            else:
                pending = text
            if len(pending) > max_line:
                body = pending if body is None else body + "\n" + pending
                pending = ""
            if body is not None:
                yield body
            if not chunk:
                break
            try:
                chunk = f.read(BLOCK)
            except OSError as exc:
                ctx.quarantine(None, f"read error, rest of file not read: {exc.strerror or exc}")
                chunk = b""
        if pending:
            yield pending.rstrip("\r")


def line_blocks(ctx: FileContext, max_line: int = MAX_LINE) -> Iterator[list[str]]:
    """The file's lines, decoded once per block of ``BLOCK`` bytes, without line ends
    (``text_blocks`` split into lines; the same cuts, errors and quarantines)."""
    for text in text_blocks(ctx, max_line):
        yield text.split("\n")
