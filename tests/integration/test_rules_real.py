"""The rule pack against messages real software produces here: openssl s_client, curl,
Python's ssl and Java against an openssl s_server whose certificate is not yet valid or
expired (signed under faketime); PyJWT decoding tokens from a clock ten minutes off;
pyotp showing the TOTP window; chronyd -Q under faketime against a chronyd server.
(krb5kdc and kinit: tests/test_kerberos_real.py.): the part that runs the command line,
a real daemon or another process (the rest is in tests/unit/rules/test_real_unit.py).
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from support.probe_helpers import chronyd, faked, free_port, need, running
from support.rules_real import PACK, signatures  # noqa: F401


def _run(*cmd: str, **kw) -> str:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, **kw)
    return r.stdout + r.stderr


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Path:
    """A CA valid now; a leaf signed two days ahead (not yet valid) and one that expired."""
    need("openssl", "faketime")
    d = tmp_path_factory.mktemp("tls")
    _run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.pem",
         "-days", "30", "-subj", "/CN=Test CA")
    for name, fake, days in (("future", "+2d", "30"), ("expired", "-3d", "1")):
        _run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{d}/{name}.key", "-out", f"{d}/{name}.csr",
             "-subj", "/CN=localhost")
        said = _run(*faked(fake, ["openssl"]), "x509", "-req", "-in", f"{d}/{name}.csr", "-CA", f"{d}/ca.pem",
                    "-CAkey", f"{d}/ca.key", "-CAcreateserial", "-out", f"{d}/{name}.pem", "-days", days)
        assert (d / f"{name}.pem").exists(), said
    return d


def _server(d: Path, name: str):
    port = free_port()
    cmd = ["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", f"{d}/{name}.pem", "-key",
           f"{d}/{name}.key", "-www"]

    def ready() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            return False
    return running(cmd, d / f"s_server-{name}.log", ready), port


@pytest.mark.parametrize("name, words", [("future", "not yet valid"), ("expired", "has expired")])
def test_openssl_curl_python_and_java_wording(certs, name, words):
    need("curl", "java", "keytool")
    ctx, port = _server(certs, name)
    with ctx:
        s_client = _run("openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", f"{certs}/ca.pem",
                        "-verify_return_error", input="")
        curl = _run("curl", "-sS", "--cacert", f"{certs}/ca.pem", "--resolve", f"localhost:{port}:127.0.0.1",
                    f"https://localhost:{port}/")
        import ssl
        try:
            ssl.create_default_context(cafile=str(certs / "ca.pem")).wrap_socket(
                socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
            python = "handshake succeeded"
        except ssl.SSLError as exc:
            python = repr(exc)
        store = certs / "trust.p12"
        if not store.exists():
            _run("keytool", "-importcert", "-noprompt", "-alias", "ca", "-file", f"{certs}/ca.pem", "-keystore",
                 str(store), "-storepass", "changeit", "-storetype", "PKCS12")
        probe = certs / "Probe.java"
        probe.write_text(
            "import javax.net.ssl.*;\npublic class Probe { public static void main(String[] a) throws Exception {\n"
            "  SSLSocket s = (SSLSocket) SSLSocketFactory.getDefault().createSocket(\"127.0.0.1\", Integer.parseInt(a[0]));\n"
            "  try { s.startHandshake(); } catch (Exception e) { for (Throwable c = e; c != null; c = c.getCause())"
            " System.out.println(c); } } }\n")
        java = _run("java", f"-Djavax.net.ssl.trustStore={store}", "-Djavax.net.ssl.trustStorePassword=changeit",
                    str(probe), str(port))
    lines = {
        "openssl": next(ln for ln in s_client.splitlines() if "verify error" in ln),
        "curl": next(ln for ln in curl.splitlines() if ln.startswith("curl:")),
        "python": python,
        "java": next((ln for ln in java.splitlines() if "Certificate" in ln and "Exception" in ln), java),
    }
    for tool, line in lines.items():
        if tool != "java":
            assert words in line, (tool, line)
        assert "TLS_CERT_DATE_INVALID" in signatures(line), (tool, line)
    assert ("CertificateNotYetValidException" if name == "future" else "CertificateExpiredException") in lines["java"]


def test_chronyd_reports_a_clock_ten_minutes_ahead(tmp_path):
    need("chronyd", "faketime")
    with chronyd(tmp_path / "server") as port:
        conf = tmp_path / "client.conf"
        conf.write_text(f"server 127.0.0.1 port {port} iburst maxpoll 4\ncmdport 0\nbindcmdaddress /\n"
                        f"pidfile {tmp_path}/client.pid\n")
        user = ["-u", "root"] if os.geteuid() == 0 else []
        # chronyd -Q gives up when its first exchanges go unanswered (once, in a full
        # run on a busy machine): up to three tries, and what it said if none worked.
        outs = []
        for _ in range(3):
            outs.append(_run(*faked("+10m", ["chronyd"]), "-Q", *user, "-f", str(conf)))
            if "System clock wrong by" in outs[-1]:
                break
    lines = [ln for ln in outs[-1].splitlines() if "System clock wrong by" in ln]
    assert lines, "\n---\n".join(outs)
    line = lines[0]
    assert "-59" in line or "-60" in line, line
    assert signatures(line.split("Z ", 1)[-1]) == {"TIME_DAEMON_CLOCK_WRONG"}
