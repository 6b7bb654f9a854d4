"""Finding the evidence: every file under the paths named, once, in a stable order; the
host a file belongs to by its folder; its format sniffed from its first bytes, never
from its name; case files found among the evidence.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Iterator

from ..case import sniff_case
from ..sources.containers import pod_of

SNIFF_BYTES = 8192


def discover(paths: Iterable[Path], exclude: Iterable[Path] = ()) -> Iterator[tuple[Path, bool]]:
    """Yield (file, named_directly) for every file under ``paths``, each file once (a
    folder named with its parent, ``ev/ ev/host1``, is not read twice), in the order
    of their real paths: the order the paths were named in changes nothing, not even
    which of two copies of a record is kept."""
    found: dict[Path, tuple[Path, bool]] = {}
    skip = [p.resolve() for p in exclude]
    for path in paths:
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith("."):
                        found.setdefault((Path(root) / name).resolve(), (Path(root) / name, False))
        else:
            # Named directly wins over found in a folder: --host speaks of it.
            key = path.resolve()
            if key not in found or not found[key][1]:
                found[key] = (path, True)
    for key in sorted(found, key=str):
        if not any(key == s or s in key.parents for s in skip):
            yield found[key]


def host_hint(path: Path) -> str:
    """The host a file's records belong to when they do not name one. Collection tools
    lay evidence out one folder per host: the folder the file sits in, unless that
    folder is part of the host's own file system as collected (``<host>/var/log/...``,
    ``<host>/var/lib/docker/...``: the folder above ``var``) or a kubelet's pod log
    (``.../pods/<namespace>_<pod>_<uid>/<container>/0.log``: the folder above ``pods``,
    else the pod)."""
    folders = path.resolve().parts[:-1]
    for i in range(len(folders) - 2, 0, -1):
        if folders[i] == "var" and folders[i + 1] in ("log", "lib") and folders[i - 1] not in ("", "/"):
            return folders[i - 1]
    pod = pod_of(path)
    if pod is not None:
        above = path.parent.parent.parent
        return above.parent.name if above.name == "pods" and above.parent.name else pod
    parent = path.resolve().parent.name
    return parent or "unknown"


def head_of(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(SNIFF_BYTES)


def find_case_files(paths: Iterable[Path]) -> list[Path]:
    found = []
    for path, _ in discover(paths):
        try:
            head = head_of(path)
        except OSError:
            continue
        if sniff_case(head):
            found.append(path)
    return found
