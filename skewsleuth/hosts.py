"""One name per host: case-insensitive, short names joined to their FQDN.

Evidence spells hosts many ways (``SRV-LYNCEDGE01``, ``srv-lyncedge01.domain.com``, a
folder called ``srv-lyncedge01``). Names are lower-cased, and a short name becomes the
one FQDN whose first label it is; a short name that matches several FQDNs stays short.
"""

from __future__ import annotations

from typing import Iterable


def canonical_map(names: Iterable[str]) -> dict[str, str]:
    lowered = {n.strip().lower().rstrip(".") for n in names if n and n.strip()}
    fqdns: dict[str, list[str]] = {}
    for n in lowered:
        if "." in n and not _is_address(n):
            fqdns.setdefault(n.split(".", 1)[0], []).append(n)
    out = {}
    for n in lowered:
        if "." not in n and len(fqdns.get(n, [])) == 1:
            out[n] = fqdns[n][0]
        else:
            out[n] = n
    return out


def _is_address(name: str) -> bool:
    return name.replace(".", "").isdigit() or ":" in name


def canonical(name: str | None, mapping: dict[str, str]) -> str | None:
    if not name:
        return name
    key = name.strip().lower().rstrip(".")
    return mapping.get(key, key)


def same_host(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return False
    a, b = a.lower().rstrip("."), b.lower().rstrip(".")
    return a == b or a.split(".", 1)[0] == b.split(".", 1)[0] and ("." not in a or "." not in b)
