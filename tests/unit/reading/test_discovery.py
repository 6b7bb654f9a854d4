"""Discovery resolves each folder once: the real paths and host folders it gives are
those of resolving every file."""

from __future__ import annotations

import os
from pathlib import Path

from skewsleuth.reading.discovery import discover, host_hint


def test_real_paths_and_hosts_as_if_each_file_were_resolved(tmp_path):
    ev = tmp_path / "ev"
    for host in ("h1", "h2", "srv/var/log"):
        (ev / host).mkdir(parents=True)
    (ev / "h1" / "a.log").write_text("x")
    (ev / "h2" / "b.log").write_text("y")
    (ev / "srv" / "var" / "log" / "syslog").write_text("z")
    (ev / "h1" / "link.log").symlink_to(ev / "h2" / "b.log")          # a file link: its target's folder
    (ev / "h1" / "other.log").symlink_to(tmp_path / "outside.log")    # to outside the evidence
    (tmp_path / "outside.log").write_text("w")
    os.symlink(ev, tmp_path / "via")                                   # the evidence named through a link
    for named in (ev, tmp_path / "via"):
        found = list(discover([named]))
        assert found, named
        for path, direct, real in found:
            assert not direct
            assert real == path.resolve(), path
            assert host_hint(path, real) == host_hint(path), path
        hosts = {real.name: host_hint(path, real) for path, _, real in found}
        assert hosts == {"a.log": "h1", "b.log": "h2", "syslog": "srv", "outside.log": tmp_path.name}
        # The link and its target are one file, read once, under its target's folder.
        assert {Path(r) for _, _, r in found} == {ev / "h1" / "a.log", ev / "h2" / "b.log",
                                                  ev / "srv" / "var" / "log" / "syslog", tmp_path / "outside.log"}
