"""Real servers on 127.0.0.1 for the probe tests: chronyd (under faketime), exim,
Python's http.server; each started on a port free at run time and killed at teardown."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import pytest

IN_CI = os.environ.get("CI") == "true"


def need(*binaries: str) -> None:
    """Real components are part of the test contract: missing in CI is a failure;
    elsewhere the test is skipped with the reason (scripts/test-all.sh installs them)."""
    missing = [b for b in binaries if shutil.which(b) is None]
    if missing:
        msg = f"{', '.join(missing)} not installed (scripts/test-all.sh installs the Debian packages)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tcp_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


@contextmanager
def running(cmd: list[str], log: Path, ready: Callable[[], bool], *, env: dict | None = None,
            wait: float = 15.0) -> Iterator[subprocess.Popen]:
    """``cmd`` in a session of its own until the block ends; it is ready when ``ready()``."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=env)
    try:
        end = time.monotonic() + wait
        while not ready():
            if proc.poll() is not None or time.monotonic() > end:
                pytest.fail(f"{cmd[0]} did not start: {log.read_text(errors='replace')[-800:]}")
            time.sleep(0.05)
        yield proc
    finally:
        # The whole session: faketime's wrapper and the server it runs.
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(5)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def faked(spec: str | None, cmd: list[str]) -> list[str]:
    if spec:
        clear_stale_faketime()
    return ["faketime", "-f", spec, *cmd] if spec else cmd


def clear_stale_faketime(shm: Path = Path("/dev/shm")) -> None:
    """Remove the semaphores and shared memory that faketime's wrapper left behind when
    it was killed (a server stopped with SIGKILL): they are named after the wrapper's
    PID, and a later wrapper that gets the same PID fails with "sem_open: File exists"."""
    for path in shm.glob("*faketime_*_*"):
        pid = path.name.rsplit("_", 1)[-1]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            path.unlink(missing_ok=True)
        except PermissionError:
            pass


@contextmanager
def chronyd(tmp: Path, fake: str | None = None, *, local: int | None = 8, extra: str = "",
            port: int | None = None) -> Iterator[int]:
    """A real chronyd serving NTP on 127.0.0.1:<port> from its local clock (``local
    stratum``; None: no source at all, so unsynchronised), plus ``extra`` conf lines.
    -x: it never touches this machine's clock; no Unix command socket, no drift file.
    ``port``: serve on this one (a host rebooting on the same address), else a free one."""
    need("chronyd", *(["faketime"] if fake else []))
    from skewsleuth.probe import probe

    tmp.mkdir(parents=True, exist_ok=True)
    port = port or free_port(socket.SOCK_DGRAM)
    conf = tmp / "chrony.conf"
    conf.write_text(f"port {port}\nbindaddress 127.0.0.1\nallow 127.0.0.1\ncmdport 0\nbindcmdaddress /\n"
                    f"pidfile {tmp}/chronyd.pid\n" + (f"local stratum {local}\n" if local else "") + extra)
    # As root chronyd would drop to its own user and then fail to remove its pid file in tmp.
    user = ["-u", "root"] if os.geteuid() == 0 else []
    cmd = faked(fake, ["chronyd", "-x", "-d", *user, "-f", str(conf)])

    def ready() -> bool:      # it answers (an unsynchronised one with its reason)
        m = probe([f"ntp://127.0.0.1:{port}"], timeout=0.3, samples=1)[0]
        return m.ok or "not synchronised" in (m.error or "")

    with running(cmd, tmp / "chronyd.log", ready):
        yield port
