"""Run a runbook's commands on a Linux (or OpenSSH-on-Windows) host over SSH (asyncssh).

One connection per run, one non-interactive session per command (no terminal: ``sudo
-n`` fails instead of prompting). Host keys are always checked: against the inventory's
``fix.ssh.known_hosts`` file or ``~/.ssh/known_hosts`` (asyncssh's default); there is
no option to turn checking off, since a fix run hands the host root-level commands.
Output is read as bytes and at most MAX_OUTPUT bytes of each stream are kept (the rest
is read and dropped, so that a chatty command still finishes).

References: asyncssh ``connect`` / ``SSHClientConnection.create_process``; RFC 4254 §6.
"""

from __future__ import annotations

import asyncio
import os
import time

import asyncssh

from ..errors import Unreachable
from ..remediation import SshSettings
from .execute import Output

MAX_OUTPUT = 64 * 1024
CONNECT_TIMEOUT = 10.0


async def _read(stream: asyncssh.SSHReader, keep: bytearray) -> None:
    while True:
        chunk = await stream.read(65536)
        if not chunk:
            return
        if len(keep) < MAX_OUTPUT:
            keep += chunk[:MAX_OUTPUT - len(keep)]


class SshSession:
    """``async with SshSession(host, settings) as s: await s.run(cmd, timeout)``."""

    name = "ssh"

    def __init__(self, host: str, settings: SshSettings, *, connect_timeout: float = CONNECT_TIMEOUT) -> None:
        self.host = host
        self.settings = settings
        self.address = settings.address or host
        self.connect_timeout = connect_timeout
        self._conn: asyncssh.SSHClientConnection | None = None

    @property
    def where(self) -> str:
        user = f"{self.settings.user}@" if self.settings.user else ""
        return f"ssh://{user}{self.address}:{self.settings.port}"

    async def __aenter__(self) -> "SshSession":
        s = self.settings
        options: dict = {"port": s.port, "connect_timeout": self.connect_timeout}
        if s.user:
            options["username"] = s.user
        if s.known_hosts:
            path = os.path.expanduser(s.known_hosts)
            if not os.path.isfile(path):
                raise Unreachable(f"cannot reach {self.host} over SSH: known_hosts file {s.known_hosts} not found")
            options["known_hosts"] = path
        if s.client_keys:
            options["client_keys"] = [os.path.expanduser(k) for k in s.client_keys]
        try:
            self._conn = await asyncssh.connect(self.address, **options)
        except (OSError, asyncssh.Error, asyncssh.KeyImportError, TimeoutError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise Unreachable(f"cannot reach {self.host} over SSH ({self.where}): "
                              f"{' '.join(str(reason).split())}") from None
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._conn is not None:
            self._conn.close()
            await self._conn.wait_closed()

    async def run(self, command: str, timeout: float) -> Output:
        assert self._conn is not None, "use SshSession as an async context manager"
        out, err = bytearray(), bytearray()
        start = time.monotonic()
        proc: asyncssh.SSHClientProcess | None = None
        try:
            async with asyncio.timeout(timeout):
                proc = await self._conn.create_process(command, encoding=None, stdin=asyncssh.DEVNULL)
                await asyncio.gather(_read(proc.stdout, out), _read(proc.stderr, err))
                await proc.wait_closed()
        except TimeoutError:
            if proc is not None:
                # Ask sshd to end the command (RFC 4254 §6.9 "signal"), then close the session.
                # OpenSSH's sshd may ignore the signal for a session without a terminal, and
                # closing does not end the command either: the audit log says so.
                try:
                    proc.send_signal("TERM")
                except (OSError, asyncssh.Error):
                    pass
                proc.close()
            return Output(None, bytes(out), bytes(err), time.monotonic() - start,
                          f"no exit within {timeout:g} s (session closed; the command may still be running "
                          "on the host)")
        except (OSError, asyncssh.Error) as exc:
            return Output(None, bytes(out), bytes(err), time.monotonic() - start,
                          f"{type(exc).__name__}: {getattr(exc, 'reason', None) or exc}")
        signal = proc.exit_signal[0] if proc.exit_signal else None
        return Output(proc.exit_status if signal is None else None, bytes(out), bytes(err),
                      time.monotonic() - start, f"killed by signal {signal}" if signal else None)
