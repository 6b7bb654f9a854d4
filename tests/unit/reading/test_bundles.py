"""Files are weighed by what their reader reads, not their size on disk: a host's
channel files preallocated to 1 MB are read in this process, and bundled many at a
time for worker processes."""

from __future__ import annotations

from datetime import timezone
from pathlib import Path

from skewsleuth.case import Case
from skewsleuth.reading import ingest as ingest_module
from skewsleuth.reading.files import FileTask
from skewsleuth.reading.workers import PARALLEL_MIN_BYTES
from skewsleuth.store import Store

CHUNK = 65536


def _channels(evtx_dir: Path, folder: Path, n: int) -> list[Path]:
    """``n`` channel files of one host: a real one-chunk sample, then 16 chunks of zeros."""
    sample = (evtx_dir / "Microsoft-Windows-HelloForBusiness%4Operational.evtx").read_bytes()
    assert len(sample) == 4096 + CHUNK
    folder.mkdir(parents=True)
    paths = [folder / f"channel{k:03d}.evtx" for k in range(n)]
    for p in paths:
        p.write_bytes(sample + bytes(16 * CHUNK))
    return paths


def test_preallocated_channel_files_are_read_here_by_what_they_hold(evtx_dir, tmp_path, monkeypatch):
    paths = _channels(evtx_dir, tmp_path / "ev" / "host1", 40)
    assert sum(p.stat().st_size for p in paths) > PARALLEL_MIN_BYTES      # by size, every core
    asked: list[tuple[int, int]] = []
    real = ingest_module.default_workers
    monkeypatch.setattr(ingest_module, "default_workers", lambda n, size: asked.append((n, size)) or real(n, size))
    summary = ingest_module.ingest(Store(), [tmp_path / "ev"], Case())
    assert summary.records == 40 * 6 and summary.files_failed == 0
    assert asked == [(40, 40 * (4096 + CHUNK))]     # 2.8 MB to read of 44 MB on disk: one process


def test_bundles_weigh_what_is_read(tmp_path):
    def task(k: int, to_read: int | None) -> FileTask:
        path = tmp_path / f"f{k}"
        path.write_bytes(b"x" * 10)
        return FileTask(str(path), k, "evtx", "h", timezone.utc, None, None, to_read)

    small = [task(k, 20_000) for k in range(300)]            # as many files as a bundle holds
    assert [len(b) for b in ingest_module._bundles(small)] == [128, 128, 44]
    one_chunk = [task(k, 4096 + CHUNK) for k in range(300)]  # as many bytes as a bundle holds
    assert [len(b) for b in ingest_module._bundles(one_chunk)] == [120, 120, 60]
    big = [task(k, 5 * 1024 * 1024) for k in range(4)]
    assert [len(b) for b in ingest_module._bundles(big)] == [1, 1, 1, 1]
    unknown = [task(k, None) for k in range(3)]      # weighed by their size: 10 bytes each
    assert [len(b) for b in ingest_module._bundles(unknown)] == [3]


def test_the_worker_server_is_started_while_files_are_still_being_found(evtx_dir, tmp_path, monkeypatch):
    """Once enough is to be read for worker processes, their server is started at
    once, while the rest is sniffed; never when workers are not the default's to
    choose or a parse cache may hold the files."""
    _channels(evtx_dir, tmp_path / "ev" / "host1", 6)
    sniffed: list[int] = []
    started: list[int] = []
    real_head = ingest_module.head_of
    monkeypatch.setattr(ingest_module, "head_of", lambda p: sniffed.append(1) or real_head(p))
    monkeypatch.setattr(ingest_module, "warm_up", lambda: started.append(len(sniffed)))
    monkeypatch.setattr(ingest_module, "PARALLEL_MIN_BYTES", 3 * (4096 + CHUNK))
    monkeypatch.setattr(ingest_module, "usable_cores", lambda: 2)
    monkeypatch.setattr(ingest_module, "default_workers", lambda n, size: 1)     # the unit tier starts none
    ingest_module.ingest(Store(), [tmp_path / "ev"], Case())
    assert started == [3]                 # after the third file of six, once
    for kwargs in ({"workers": 1}, {"cache": tmp_path / "cache"}):
        started.clear()
        ingest_module.ingest(Store(), [tmp_path / "ev"], Case(), **kwargs)
        assert started == [], kwargs
    monkeypatch.setattr(ingest_module, "usable_cores", lambda: 1)
    ingest_module.ingest(Store(), [tmp_path / "ev"], Case())
    assert started == []
