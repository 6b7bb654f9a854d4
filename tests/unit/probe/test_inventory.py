"""probe's arguments and inventory: every mistake is exit 2 with one line on stderr."""

from __future__ import annotations

import pytest

from skewsleuth.probe import Inventory, InventoryError, TargetError, parse_target
from skewsleuth.probe.inventory import BUILTIN_ROLES, EXTRA_TOLERANCES, protocol_tolerances
from skewsleuth.rules import load_rules


@pytest.mark.parametrize("text,url,port", [
    ("ntp://dc01.domain.com", "ntp://dc01.domain.com", 123),
    ("NTP://DC01:11123", "ntp://dc01:11123", 11123),
    ("https://intranet", "https://intranet", 443),
    ("http://[::1]:8080/", "http://[::1]:8080", 8080),
    ("smtp://mx01", "smtp://mx01", 25),
])
def test_targets(text, url, port):
    t = parse_target(text)
    assert (t.url, t.port) == (url, port)


@pytest.mark.parametrize("text", ["ftp://x", "ntp://", "ntp://x:0", "http://x/path", "ntp://x:port", "x"])
def test_bad_targets(text):
    with pytest.raises(TargetError):
        parse_target(text)


def test_role_tolerances_come_from_the_rule_pack():
    by_rules = {}
    for r in load_rules():
        if r.tolerance_s is not None:
            by_rules[r.protocol] = min(r.tolerance_s, by_rules.get(r.protocol, r.tolerance_s))
    table = protocol_tolerances()
    assert by_rules and all(table[p] == t for p, t in by_rules.items())
    # The extra table only fills in protocols the rules do not cover yet.
    assert not set(EXTRA_TOLERANCES) & set(by_rules)
    assert all(p in table for protos in BUILTIN_ROLES.values() for p in protos)


def test_inventory_shape(tmp_path):
    f = tmp_path / "hosts.yml"
    f.write_text("""
roles:
  payments: {protocols: [aws-sigv4, totp]}
  trading: {tolerance_s: 0.1, protocols: [kerberos]}
hosts:
  - name: srv-lyncedge01.domain.com
    roles: [lync-edge]
    probe: [ntp, https]
  - dc01.domain.com
  - name: pay01
    roles: [payments, trading]
    probe: ["smtp://pay01:2525"]
    tolerance_s: 0.05
""")
    inv = Inventory.load(f)
    edge, dc, pay = inv.hosts
    assert [t.url for t in edge.targets] == ["ntp://srv-lyncedge01.domain.com", "https://srv-lyncedge01.domain.com"]
    assert edge.tolerance_s == 300.0 and edge.targets[1].roles == ("lync-edge",)
    assert [t.url for t in dc.targets] == ["ntp://dc01.domain.com"] and dc.tolerance_s is None
    assert inv.roles["payments"].tolerance_s == 30.0 and pay.tolerance_s == 0.05
    assert [t.name for t in inv.targets()] == ["srv-lyncedge01.domain.com"] * 2 + ["dc01.domain.com", "pay01"]


@pytest.mark.parametrize("doc,message", [
    ("- dc01", "a mapping with a 'hosts' list"),
    ("hosts: [{name: dc01, probe: [gopher]}]", "hosts[0] (dc01): target 'gopher' needs a scheme"),
    ("hosts: [{name: dc01, tolerance_s: -1}]", "tolerance_s must be a positive number"),
    ("hosts: [{name: dc01, colour: red}]", "unknown key(s) colour"),
    ("hosts: [dc01, dc01]", "target ntp://dc01 is listed twice"),
    ("roles: {x: {protocols: [smoke-signals]}}\nhosts: []", "role 'x': unknown protocol 'smoke-signals'"),
    ("roles: {x: 5}\nhosts: []", "role 'x': give 'protocols"),
    ("hosts: [{name: [1]}]", "a host is a mapping with a 'name'"),
    ("hosts: [\n", "not valid YAML"),
])
def test_inventory_errors_name_the_place(tmp_path, doc, message):
    f = tmp_path / "inv.yml"
    f.write_text(doc)
    with pytest.raises(InventoryError) as exc:
        Inventory.load(f)
    assert message in str(exc.value) and str(exc.value).startswith(str(f)) and "\n" not in str(exc.value)


def _probe_section() -> str:
    from conftest import ROOT
    text = (ROOT / "docs" / "usage.md").read_text()
    section = text[text.index("## Probe clocks now"):]
    end = section.find("\n## ", 1)          # up to the next section (fix, watch), not the page's end
    return section if end < 0 else section[:end]


def test_documented_inventory_loads_as_described():
    import re
    import yaml
    (block,) = re.findall(r"```yaml\n(.*?)```", _probe_section(), re.S)
    inv = Inventory.from_dict(yaml.safe_load(block), "usage.md")
    assert [(h.name, h.tolerance_s, [t.url for t in h.targets]) for h in inv.hosts] == [
        ("srv-lyncedge01.domain.com", 300.0, ["ntp://srv-lyncedge01.domain.com", "https://srv-lyncedge01.domain.com"]),
        ("dc01.domain.com", 300.0, ["ntp://dc01.domain.com"]),
        ("mx01.domain.com", 60.0, ["smtp://mx01.domain.com:2525"])]
    assert inv.roles["payments-api"].tolerance_s == 900.0 and inv.roles["trading"].tolerance_s == 0.1
    for role in BUILTIN_ROLES:
        assert f"`{role}`" in _probe_section()


def test_documented_json_keys_are_the_ones_written():
    """An NTP server five hours behind (synth responder on loopback), measured through the
    library; the documented row has exactly the keys a real row has."""
    import asyncio
    import json
    import re
    from skewsleuth.probe import measure
    from synth.ntp import serve

    async def run():
        (port,) = await serve(1, -18000.0)
        return await measure([f"ntp://127.0.0.1:{port}"], timeout=2, interval=0)
    (m,) = asyncio.run(run())
    (block,) = re.findall(r"```json\n(.*?)```", _probe_section(), re.S)
    (documented,) = json.loads(block)
    assert m.ok and abs(m.offset_s + 18000) <= m.uncertainty_s + 1e-3
    assert list(documented) == list(m.to_dict())


def test_progress_is_reported_once_per_target_in_order_given():
    from skewsleuth.probe import probe
    seen = []
    targets = ["ntp://127.0.0.1:9", "smtp://127.0.0.1:9", "http://127.0.0.1:9"]
    ms = probe(targets, timeout=0.3, progress=lambda done, total: seen.append((done, total)))
    assert sorted(seen) == [(1, 3), (2, 3), (3, 3)]
    assert [m.target for m in ms] == targets and not any(m.ok for m in ms)
