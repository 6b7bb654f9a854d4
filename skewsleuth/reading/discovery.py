"""Finding the evidence: every file under the paths named, once, in a stable order; the
host a file belongs to by its folder; its format sniffed from its first bytes, never
from its name; case files found among the evidence.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Iterable, Iterator

from ..case import sniff_case
from ..errors import UnusableFile
from ..sources.containers import pod_of

SNIFF_BYTES = 8192


def discover(paths: Iterable[Path], exclude: Iterable[Path] = (),
             aside: list[tuple[Path, str]] | None = None) -> Iterator[tuple[Path, bool, Path]]:
    """Yield (file, named_directly, its real path) for every file under ``paths``, each file once (a
    folder named with its parent, ``ev/ ev/host1``, is not read twice), in the order
    of their real paths: the order the paths were named in changes nothing, not even
    which of two copies of a record is kept.

    Hidden files and folders (``.DS_Store``, ``.git/``) are not evidence, and links to
    folders are not followed: each is added to ``aside`` with why (:data:`HIDDEN`,
    :data:`LINKED`), as is a folder that cannot be listed (``cannot list folder: ...``),
    in path order, so that nothing is left out without a word."""
    found: dict[Path, tuple[Path, bool]] = {}
    skip = [p.resolve() for p in exclude]
    left: list[tuple[Path, str]] = []

    def unlisted(exc: OSError) -> None:
        left.append((Path(exc.filename or "."), f"cannot list folder: {exc.strerror or exc}"))

    for path in paths:
        if path.is_dir():
            for root, dirs, files in os.walk(path, onerror=unlisted):
                for d in dirs:
                    if d.startswith("."):
                        left.append((Path(root) / d, HIDDEN))
                    elif os.path.islink(os.path.join(root, d)):
                        left.append((Path(root) / d, LINKED))
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                # The folder resolved once, not each file: resolving walks every part of
                # the path (60 us a file, most of the time to find a host's 400 files).
                real_root = Path(root).resolve()
                for name in sorted(files):
                    if not name.startswith("."):
                        file = Path(root) / name
                        real = file.resolve() if os.path.islink(file) else real_root / name
                        found.setdefault(real, (file, False))
                    else:
                        left.append((Path(root) / name, HIDDEN))
        else:
            # Named directly wins over found in a folder: --host speaks of it.
            key = path.resolve()
            if key not in found or not found[key][1]:
                found[key] = (path, True)
    if aside is not None:
        seen: set[Path] = set()
        for p, why in sorted(left, key=lambda x: str(x[0].absolute())):
            key = p.absolute()   # not resolved: a link is what is set aside, not what it points to
            if key not in seen and not _excluded(p.resolve(), skip):
                seen.add(key)
                aside.append((p, why))
    for key in sorted(found, key=str):
        if not _excluded(key, skip):
            yield (*found[key], key)


HIDDEN = "hidden (its name starts with '.')"
LINKED = "a link to a folder (not followed: name the folder itself to read it)"


def _excluded(key: Path, skip: list[Path]) -> bool:
    """Whether ``key`` (a resolved path) is one of ``skip`` or inside one."""
    return any(key == s or s in key.parents for s in skip)


def host_hint(path: Path, real: Path | None = None) -> str:
    """The host a file's records belong to when they do not name one. Collection tools
    lay evidence out one folder per host: the folder the file sits in, unless that
    folder is part of the host's own file system as collected (``<host>/var/log/...``,
    ``<host>/var/lib/docker/...``: the folder above ``var``) or a kubelet's pod log
    (``.../pods/<namespace>_<pod>_<uid>/<container>/0.log``: the folder above ``pods``,
    else the pod). ``real``: the file's real path, when known (see :func:`discover`)."""
    real = real or path.resolve()
    folders = real.parts[:-1]
    for i in range(len(folders) - 2, 0, -1):
        if folders[i] == "var" and folders[i + 1] in ("log", "lib") and folders[i - 1] not in ("", "/"):
            return folders[i - 1]
    pod = pod_of(path)
    if pod is not None:
        above = path.parent.parent.parent
        return above.parent.name if above.name == "pods" and above.parent.name else pod
    parent = real.parent.name
    return parent or "unknown"


def head_of(path: Path) -> bytes:
    """The first bytes of a file, to sniff its format. Raises :class:`UnusableFile` for
    what is not a regular file (a named pipe would block the read, and its content,
    once read here, would be gone for the reader) and OSError when it cannot be read."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        kind = ("a named pipe" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
                else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a file")
        raise UnusableFile(f"not a regular file ({kind}): save its content to a file to read it")
    with open(path, "rb") as fh:
        return fh.read(SNIFF_BYTES)


def find_case_files(paths: Iterable[Path]) -> list[Path]:
    found = []
    for path, _, _ in discover(paths):
        try:
            head = head_of(path)
        except (OSError, UnusableFile):
            continue
        if sniff_case(head):
            found.append(path)
    return found
