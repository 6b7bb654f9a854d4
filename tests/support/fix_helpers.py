"""Real servers for the fix tests: an OpenSSH sshd and chronyd with a command socket,
both on 127.0.0.1, started by the tests on free ports and killed at teardown.

The sshd runs with a host key and a client key generated here (asyncssh), a
known_hosts file written here, public-key login only (``UsePAM no``, ``StrictModes no``
because the files sit in a temporary folder). Commands run over it as the test's own
user on this machine, so every command a runbook runs must be harmless here: chronyc is
pointed (the inventory's ``fix.chronyc``) at a chronyd started with ``-x``, which never
touches this machine's clock, through its own Unix command socket.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import asyncssh

from support.probe_helpers import faked, free_port, need, running, tcp_open


@dataclass
class Sshd:
    port: int
    known_hosts: Path
    client_key: Path
    log: Path
    user: str

    def logins(self) -> int:
        """Sessions the sshd accepted so far (it logs each with -e)."""
        return self.log.read_text(errors="replace").count("Accepted publickey")


@contextmanager
def sshd(tmp: Path) -> Iterator[Sshd]:
    need("/usr/sbin/sshd")
    tmp.mkdir(parents=True, exist_ok=True)
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    host_key.write_private_key(str(tmp / "host_ed25519"))
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key.write_private_key(str(tmp / "client_ed25519"))
    for key in ("host_ed25519", "client_ed25519"):
        os.chmod(tmp / key, 0o600)         # sshd ignores a private key others can read
    (tmp / "authorized_keys").write_bytes(client_key.export_public_key())
    port = free_port()
    (tmp / "known_hosts").write_bytes(f"[127.0.0.1]:{port} ".encode() + host_key.export_public_key())
    root = os.geteuid() == 0
    conf = tmp / "sshd_config"
    conf.write_text(f"""Port {port}
ListenAddress 127.0.0.1
HostKey {tmp}/host_ed25519
PidFile {tmp}/sshd.pid
AuthorizedKeysFile {tmp}/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
{"PermitRootLogin prohibit-password" if root else ""}
""")
    if root:
        # sshd's compiled-in privilege separation folder; the Debian service creates it at start.
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    with running(["/usr/sbin/sshd", "-D", "-e", "-f", str(conf)], tmp / "sshd.log", lambda: tcp_open(port)):
        yield Sshd(port, tmp / "known_hosts", tmp / "client_ed25519", tmp / "sshd.log", getpass.getuser())


@dataclass
class Chronyd:
    port: int             # NTP, on 127.0.0.1
    socket: Path          # its command socket
    log: Path

    @property
    def chronyc(self) -> str:
        return f"chronyc -h {self.socket}"


@contextmanager
def chronyd_with_socket(fake: str | None) -> Iterator[Chronyd]:
    """chronyd -x (no clock control) serving NTP from its local clock, ``fake`` its
    faketime offset, with a Unix command socket so that chronyc can talk to it. One
    source is configured (on a port nothing answers) so that ``chronyc burst`` has
    something to burst. The folder is short (Unix socket paths are limited to 108
    bytes) and mode 0700 (chronyd refuses a socket in a folder others can write)."""
    need("chronyd", "chronyc", *(["faketime"] if fake else []))
    from skewsleuth.probe import probe

    tmp = Path(tempfile.mkdtemp(prefix="ssfix-", dir="/tmp"))
    os.chmod(tmp, 0o700)
    port = free_port(socket.SOCK_DGRAM)
    silent = free_port(socket.SOCK_DGRAM)
    conf = tmp / "chrony.conf"
    conf.write_text(f"port {port}\nbindaddress 127.0.0.1\nallow 127.0.0.1\ncmdport 0\n"
                    f"bindcmdaddress {tmp}/chronyd.sock\npidfile {tmp}/chronyd.pid\nlocal stratum 8\n"
                    f"server 127.0.0.1 port {silent} minpoll 10\n")
    user = ["-u", "root"] if os.geteuid() == 0 else []

    def ready() -> bool:
        if not (tmp / "chronyd.sock").exists():
            return False
        m = probe([f"ntp://127.0.0.1:{port}"], timeout=0.3, samples=1)[0]
        return m.ok or "not synchronised" in (m.error or "")

    try:
        with running(faked(fake, ["chronyd", "-x", "-d", *user, "-f", str(conf)]), tmp / "chronyd.log", ready):
            yield Chronyd(port, tmp / "chronyd.sock", tmp / "chronyd.log")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
