"""Run a Windows runbook over WinRM (pywinrm, optional: ``pip install 'skewsleuth[winrm]'``).

The same guarded execution as SSH (execute.py); here each command is one WinRS command
in a ``cmd`` shell (pywinrm ``Session.run_cmd``), which is what the runbook's commands
are written for (w32tm, klist, ``powershell -Command ...``). The password comes from the
environment variable the inventory names (``fix.winrm.password_env``, default
``SKEWSLEUTH_WINRM_PASSWORD``), never from the inventory file. HTTPS with certificate
validation is the default; ``cert_validation: false`` is for lab hosts only.

pywinrm is synchronous (requests): each command runs in a worker thread, bounded by the
WS-Management operation timeout (the command's timeout) and the HTTP read timeout (a
little longer, as pywinrm requires).

References: Microsoft, "Installation and configuration for Windows Remote Management";
pywinrm ``winrm.Session``.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any, Mapping

from ..errors import MissingPywinrm, Unreachable
from ..remediation import WinrmSettings
from .execute import Output

INSTALL_HINT = "pywinrm is not installed: pip install 'skewsleuth[winrm]' (or pip install pywinrm)"


def _pywinrm() -> Any:
    try:
        import winrm
    except ImportError:
        raise MissingPywinrm(INSTALL_HINT) from None
    return winrm


def endpoint(host: str, settings: WinrmSettings) -> str:
    """The WS-Management URL: ``https://host:5986/wsman`` by default."""
    port = settings.port or (5986 if settings.scheme == "https" else 5985)
    address = settings.address or host
    shown = f"[{address}]" if ":" in address else address
    return f"{settings.scheme}://{shown}:{port}/wsman"


class WinrmSession:
    """``async with WinrmSession(host, settings) as s: await s.run(cmd, timeout)``."""

    name = "winrm"

    def __init__(self, host: str, settings: WinrmSettings, *, env: Mapping[str, str] | None = None,
                 operation_timeout: float = 60.0) -> None:
        self.host = host
        self.settings = settings
        self.env = os.environ if env is None else env
        self.where = endpoint(host, settings)
        self.operation_timeout = operation_timeout
        self._winrm = _pywinrm()          # fails first, before any other check
        self.session: Any = None

    def connect(self) -> Any:
        """The pywinrm Session (no network yet: WinRM connects per command)."""
        s = self.settings
        if not s.user:
            raise Unreachable(f"cannot reach {self.host} over WinRM: no user (set fix.winrm.user in the inventory)")
        password = self.env.get(s.password_env)
        if not password:
            raise Unreachable(f"cannot reach {self.host} over WinRM: set the password in ${s.password_env}")
        op = max(1, int(self.operation_timeout))
        return self._winrm.Session(self.where, auth=(s.user, password), transport=s.transport,
                                   server_cert_validation="validate" if s.cert_validation else "ignore",
                                   operation_timeout_sec=op, read_timeout_sec=op + 10)

    async def __aenter__(self) -> "WinrmSession":
        self.session = self.connect()
        # Open and close a shell: connection and login are checked before any command runs.
        try:
            await asyncio.wait_for(asyncio.to_thread(self._probe_shell), self.operation_timeout + 15)
        except Exception as exc:  # noqa: BLE001 - requests/pywinrm/spnego errors, one line each
            text = " ".join(str(exc).split())[:300] or type(exc).__name__
            raise Unreachable(f"cannot reach {self.host} over WinRM ({self.where}): {text}") from None
        return self

    def _probe_shell(self) -> None:
        protocol = self.session.protocol
        protocol.close_shell(protocol.open_shell())

    async def __aexit__(self, *exc: object) -> None:
        self.session = None

    async def run(self, command: str, timeout: float) -> Output:
        start = time.monotonic()
        try:
            # The thread cannot be cancelled: the WS-Management timeout bounds it.
            r = await asyncio.wait_for(asyncio.to_thread(self.session.run_cmd, command), timeout + 15)
        except TimeoutError:
            return Output(None, b"", b"", time.monotonic() - start, f"no answer within {timeout:g} s")
        except Exception as exc:  # noqa: BLE001 - requests/pywinrm/spnego errors, one line each
            text = " ".join(str(exc).split())[:300]
            return Output(None, b"", b"", time.monotonic() - start, f"{type(exc).__name__}: {text}")
        return Output(r.status_code, r.std_out or b"", r.std_err or b"", time.monotonic() - start)
