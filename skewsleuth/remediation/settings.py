"""The inventory's per-host ``fix:`` key: how to reach a host and what its runbook needs.

    hosts:
      - name: web01.domain.com
        platform: linux
        fix:
          ssh: {user: ops, port: 22, known_hosts: ~/.ssh/known_hosts, client_keys: [~/.ssh/id_ed25519]}
          chronyc: "chronyc -h /run/chrony/chronyd.sock"   # how chronyc is run there
          sudo: true                                       # state-changing commands under sudo -n
          services: [myapp]                                # restarted after the clock is fixed
      - name: srv-lyncedge01.domain.com
        roles: [lync-edge]
        fix:
          peers: [time.domain.com]       # w32tm manual peer list (a workgroup Edge, a PDC)
          winrm: {user: 'DOMAIN\\ops', transport: ntlm}

Every key is optional; an unknown key is an error, as everywhere in the inventory.
Parsing raises ``ValueError`` with a one-line reason, which the inventory names the
file and host in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

PLATFORMS = ("linux", "windows")
TRANSPORTS = ("ssh", "winrm")
DAEMONS = ("chrony", "ntpd", "timesyncd")
WINRM_AUTH = ("ntlm", "kerberos", "credssp", "ssl", "basic")
# Per command: long enough for `w32tm /resync` waiting on a slow peer, short enough that
# a hung command does not hold a change window.
DEFAULT_COMMAND_TIMEOUT = 60.0


@dataclass(frozen=True)
class SshSettings:
    user: str | None = None                # default: the local user (asyncssh's default)
    port: int = 22
    address: str | None = None             # where to connect; default the host's name
    known_hosts: str | None = None         # default: ~/.ssh/known_hosts (host keys are always checked)
    client_keys: tuple[str, ...] = ()      # default: ~/.ssh/id_* and the ssh-agent


@dataclass(frozen=True)
class WinrmSettings:
    user: str | None = None
    password_env: str = "SKEWSLEUTH_WINRM_PASSWORD"   # passwords never sit in the inventory
    address: str | None = None
    port: int | None = None                # default: 5986 for https, 5985 for http
    scheme: str = "https"
    transport: str = "ntlm"
    cert_validation: bool = True


@dataclass(frozen=True)
class FixSettings:
    transport: str | None = None           # default: ssh on linux, winrm on windows
    ssh: SshSettings = field(default_factory=SshSettings)
    winrm: WinrmSettings = field(default_factory=WinrmSettings)
    chronyc: str = "chronyc"
    daemon: str = "chrony"                 # linux: chrony | ntpd | timesyncd
    sudo: bool = False
    services: tuple[str, ...] = ()         # restarted after the fix, besides the roles' own
    restart: str | None = None             # command template with {service}; default per platform
    peers: tuple[str, ...] = ()            # NTP servers (w32tm manual peer list, timesyncd's NTP=)
    reference: str | None = None           # clock to compare with (w32tm /stripchart); default peers[0]
    timeout_s: float = DEFAULT_COMMAND_TIMEOUT


def _str(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"fix.{key} must be a non-empty string, not {value!r}")
    return value.strip()


def _strs(value: Any, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ValueError(f"fix.{key} must be a list of strings, not {value!r}")
    return tuple(_str(v, key) for v in value)


# Host and service names go into commands unquoted: nothing a shell would read.
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:@-]*$")
# A program and its options ("chronyc -h /run/chrony/chronyd.sock"): plain words a
# shell reads as they are, no quoting, expansion or separators.
_PROGRAM = re.compile(r"^[A-Za-z0-9_./+=-]+(?: [A-Za-z0-9_./+=:@-]+)*$")


def is_name(text: str) -> bool:
    """A host or service name that is safe in a command line (no quoting, no shell
    syntax): what a runbook may put in one."""
    return bool(_NAME.match(text))


def _names(value: Any, key: str) -> tuple[str, ...]:
    names = _strs(value, key)
    bad = [n for n in names if not _NAME.match(n)]
    if bad:
        raise ValueError(f"fix.{key}: {bad[0]!r} is not a host or service name (letters, digits, . _ : @ -)")
    return names


def _program(value: Any, key: str) -> str:
    text = _str(value, key)
    if not _PROGRAM.match(text):
        raise ValueError(f"fix.{key} {text!r} is not a program path with options (plain words: letters, digits "
                         f"and _ . / + = - only)")
    return text


def _port(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise ValueError(f"fix.{key} must be a port number (1-65535), not {value!r}")
    return value


def _choice(value: Any, key: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"fix.{key} must be one of {', '.join(choices)}, not {value!r}")
    return value


def _mapping(raw: Any, key: str, known: set[str]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ValueError(f"fix.{key} must be a mapping ({', '.join(sorted(known))})")
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"fix.{key}: unknown key(s) {', '.join(sorted(map(str, unknown)))} "
                         f"(known: {', '.join(sorted(known))})")
    return raw


def parse_platform(value: Any) -> str:
    if not isinstance(value, str) or value.lower() not in PLATFORMS:
        raise ValueError(f"platform must be one of {', '.join(PLATFORMS)}, not {value!r}")
    return value.lower()


def parse_fix(raw: Any) -> FixSettings:
    """The ``fix:`` mapping of one inventory host; ValueError with a one-line reason."""
    top = {"transport", "ssh", "winrm", "chronyc", "daemon", "sudo", "services", "restart", "peers",
           "reference", "timeout_s"}
    raw = _mapping(raw, "", top) if raw is not None else {}
    ssh = SshSettings()
    if raw.get("ssh") is not None:
        s = _mapping(raw["ssh"], "ssh", {"user", "port", "address", "known_hosts", "client_keys"})
        ssh = SshSettings(user=_str(s["user"], "ssh.user") if "user" in s else None,
                          port=_port(s["port"], "ssh.port") if "port" in s else 22,
                          address=_str(s["address"], "ssh.address") if "address" in s else None,
                          known_hosts=_str(s["known_hosts"], "ssh.known_hosts") if "known_hosts" in s else None,
                          client_keys=_strs(s["client_keys"], "ssh.client_keys") if "client_keys" in s else ())
    winrm = WinrmSettings()
    if raw.get("winrm") is not None:
        w = _mapping(raw["winrm"], "winrm", {"user", "password_env", "address", "port", "scheme", "transport",
                                             "cert_validation"})
        if "cert_validation" in w and not isinstance(w["cert_validation"], bool):
            raise ValueError("fix.winrm.cert_validation must be true or false")
        winrm = WinrmSettings(
            user=_str(w["user"], "winrm.user") if "user" in w else None,
            password_env=_str(w["password_env"], "winrm.password_env") if "password_env" in w
            else WinrmSettings.password_env,
            address=_str(w["address"], "winrm.address") if "address" in w else None,
            port=_port(w["port"], "winrm.port") if "port" in w else None,
            scheme=_choice(w.get("scheme", "https"), "winrm.scheme", ("https", "http")),
            transport=_choice(w.get("transport", "ntlm"), "winrm.transport", WINRM_AUTH),
            cert_validation=w.get("cert_validation", True))
    restart = _str(raw["restart"], "restart") if "restart" in raw else None
    if restart is not None and "{service}" not in restart:
        raise ValueError("fix.restart must contain {service}, where the service's name goes")
    timeout = raw.get("timeout_s", DEFAULT_COMMAND_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"fix.timeout_s must be a positive number of seconds, not {timeout!r}")
    if "sudo" in raw and not isinstance(raw["sudo"], bool):
        raise ValueError("fix.sudo must be true or false")
    return FixSettings(
        transport=_choice(raw["transport"], "transport", TRANSPORTS) if "transport" in raw else None,
        ssh=ssh, winrm=winrm,
        chronyc=_program(raw["chronyc"], "chronyc") if "chronyc" in raw else "chronyc",
        daemon=_choice(raw.get("daemon", "chrony"), "daemon", DAEMONS),
        sudo=raw.get("sudo", False),
        services=_names(raw["services"], "services") if "services" in raw else (),
        restart=restart,
        peers=_names(raw["peers"], "peers") if "peers" in raw else (),
        reference=_names(raw["reference"], "reference")[0] if "reference" in raw else None,
        timeout_s=float(timeout))
