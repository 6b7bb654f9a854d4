"""One name per host: case-insensitive, short names joined to their FQDN.

Evidence spells hosts many ways (``SRV-LYNCEDGE01``, ``srv-lyncedge01.domain.com``, a
folder called ``srv-lyncedge01``). Names are lower-cased, and a short name becomes the
one FQDN whose first label it is; a short name that matches several FQDNs stays short.
"""

from __future__ import annotations

from typing import Iterable

import pyarrow as pa
import pyarrow.compute as pc


def host_key(name: str) -> str:
    """A name as hosts are compared: lower case, without blanks around it or dots after
    it. Keying a key changes nothing (``"a. ."`` is ``"a"``, not ``"a. "``)."""
    while True:
        key = name.strip().lower().rstrip(".")
        if key == name:
            return key
        name = key


def host_keys(names: pa.ChunkedArray) -> pa.ChunkedArray:
    """Each name of a column keyed, or kept as written when nothing of it would be left.

    Applied as events are stored, so that naming each host by :func:`canonical` later
    rewrites only the records of names that change again (a short name for its FQDN),
    not every record of a fleet whose logs spell hosts in upper case. Once per distinct
    name, not per record."""
    chunks = []
    for chunk in pc.dictionary_encode(names).chunks:
        spellings = chunk.dictionary.to_pylist()
        keyed = [(host_key(n) or n) if n is not None else None for n in spellings]
        if keyed == spellings:
            chunks.append(chunk.dictionary.take(chunk.indices))
        else:
            chunks.append(pa.array(keyed, pa.string()).take(chunk.indices))
    return pa.chunked_array(chunks, pa.string())


def canonical_map(names: Iterable[str]) -> dict[str, str]:
    lowered = {host_key(n) for n in names if n and n.strip()}
    fqdns: dict[str, list[str]] = {}
    for n in lowered:
        if "." in n and not is_address(n):
            fqdns.setdefault(n.split(".", 1)[0], []).append(n)
    out = {}
    for n in lowered:
        if "." not in n and len(fqdns.get(n, [])) == 1:
            out[n] = fqdns[n][0]
        else:
            out[n] = n
    return out


def is_address(name: str) -> bool:
    return name.replace(".", "").isdigit() or ":" in name


def canonical(name: str | None, mapping: dict[str, str]) -> str | None:
    if not name:
        return name
    key = host_key(name)
    return mapping.get(key, key)


def same_host(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return False
    a, b = a.lower().rstrip("."), b.lower().rstrip(".")
    return a == b or a.split(".", 1)[0] == b.split(".", 1)[0] and ("." not in a or "." not in b)
