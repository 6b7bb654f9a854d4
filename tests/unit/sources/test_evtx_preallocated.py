"""EVTX files the event log service preallocated are read without their unused chunks
of zeros, and give the rows and quarantined records the whole file gives."""

from __future__ import annotations

from datetime import timezone
from pathlib import Path

import pytest

from skewsleuth.reading.files import FileTask, read_file
from skewsleuth.sources import evtx as evtx_source

CHUNK, HEADER = evtx_source.CHUNK, evtx_source.HEADER_BLOCK


def _read(path: Path):
    r = read_file(FileTask(str(path), 1, "evtx", "h", timezone.utc, None))
    return r.failed, r.events and r.events.to_pylist(), r.quarantine.to_pylist()


def _read_whole(path: Path, monkeypatch):
    """The reference: the parser given the whole file, zeros and all."""
    with monkeypatch.context() as m:
        m.setattr(evtx_source, "_unused_tail", lambda fh, listed, whole: 0)
        return _read(path)


def _given(monkeypatch) -> list[int]:
    """How many bytes the parser is given of each file read (the file's size when given
    its path)."""
    import evtx

    sizes: list[int] = []
    real = evtx.PyEvtxParser

    def spy(source, *args):
        if isinstance(source, str):
            sizes.append(Path(source).stat().st_size)
        else:
            sizes.append(source.seek(0, 2))
            source.seek(0)
        return real(source, *args)

    monkeypatch.setattr(evtx, "PyEvtxParser", spy)
    return sizes


def _with_header(data: bytes, listed: int) -> bytes:
    return data[:0x2A] + listed.to_bytes(2, "little") + data[0x2C:]


def _listed(data: bytes) -> int:
    return int.from_bytes(data[0x2A:0x2C], "little")


def test_every_sample_preallocated_reads_as_the_whole_file(evtx_dir, tmp_path, monkeypatch):
    """Every real sample (damaged ones too) with 16 chunks of zeros after it, as
    Windows leaves a channel file: the same rows and quarantined records as the parser
    given the whole file, and the parser was given the file without them."""
    given = _given(monkeypatch)
    for sample in sorted(evtx_dir.glob("*.evtx")):
        path = tmp_path / sample.name
        path.write_bytes(sample.read_bytes() + bytes(16 * CHUNK))
        given.clear()
        got = _read(path)
        assert given and given[0] < path.stat().st_size, sample.name
        assert got == _read_whole(path, monkeypatch), sample.name
        assert got[1] or got[2], sample.name            # something was read, or said


def test_chunks_the_header_lists_are_given_even_when_zeros(evtx_dir, tmp_path, monkeypatch):
    """The parser reports a file that ends before the chunks its header lists; a chunk
    the header lists is never taken for preallocated space, zeros or not."""
    data = (evtx_dir / "post-Security.evtx").read_bytes()       # 2 chunks listed, 15 of zeros after
    assert _listed(data) == 2 and not any(data[HEADER + 2 * CHUNK:])
    given = _given(monkeypatch)
    path = tmp_path / "listed.evtx"
    path.write_bytes(_with_header(data, 10))
    got = _read(path)
    assert given == [HEADER + 10 * CHUNK]
    assert got == _read_whole(path, monkeypatch)
    assert got[1]


def test_zeros_between_chunks_are_kept_only_the_trailing_ones_left_out(evtx_dir, tmp_path, monkeypatch):
    """A chunk of records after chunks of zeros (a dirty file) is still read."""
    data = (evtx_dir / "system.evtx").read_bytes()
    n = _listed(data)
    chunks = [data[HEADER + k * CHUNK:HEADER + (k + 1) * CHUNK] for k in range(n)]
    path = tmp_path / "dirty.evtx"
    path.write_bytes(data[:HEADER] + chunks[0] + bytes(3 * CHUNK) + chunks[1] + bytes(5 * CHUNK))
    given = _given(monkeypatch)
    got = _read(path)
    assert given == [HEADER + 5 * CHUNK]
    whole = _read_whole(path, monkeypatch)
    assert got == whole
    ids = {r["record_id"] for r in got[1]}
    second = {r["record_id"] for r in _read_whole(evtx_dir / "system.evtx", monkeypatch)[1]}
    assert len(ids) > 0 and ids < second        # the records of both chunks, not all the file's


@pytest.mark.parametrize("tail", [0, 1])
def test_a_file_of_only_zeros_after_its_header_gives_nothing_either_way(evtx_dir, tmp_path, monkeypatch, tail):
    header = _with_header((evtx_dir / "system.evtx").read_bytes()[:HEADER], tail)
    path = tmp_path / "empty.evtx"
    path.write_bytes(header + bytes(16 * CHUNK))
    assert _read(path) == _read_whole(path, monkeypatch)
