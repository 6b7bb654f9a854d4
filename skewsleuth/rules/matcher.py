"""Run the rule pack over the timeline and write the ``symptoms`` table.

A symptom keeps where it came from (file, record), who logged it, its logged and true
time, the rule's protocol and tolerance, and the *suspect*: the host whose clock the
record accuses, from the first of the rule's suspect sources that yields a name (a
field pattern, the SIP ``peer``, or the logging host itself). A suspect named by an
address the case file's ``hosts:`` maps is replaced by its host; ``suspect_address``
keeps the address it was named by.
"""

from __future__ import annotations

from ..case import address_rows
from ..sources import per_source_sql
from ..store import Store
from . import MESSAGE_LOWER, Rule, with_message_lower

_COLUMNS = """
  file_id BIGINT, record_no BIGINT, host VARCHAR, logged TIMESTAMPTZ, true_time TIMESTAMPTZ,
  uncertainty_s DOUBLE, segment_id INTEGER, rule_id VARCHAR, title VARCHAR, signature VARCHAR,
  protocol VARCHAR, tolerance_s DOUBLE, role VARCHAR, skew_signature BOOLEAN, suspect_raw VARCHAR,
  excerpt VARCHAR, suspect_address VARCHAR
"""


# What a person needs to see of a symptom: what its source shows of a record (a SIP
# record's start line and diagnostics), else its text.
_TEXT = "coalesce(message, data, '')"
_EXCERPT = f"left({per_source_sql(lambda src: src.excerpt_sql, default=_TEXT)}, 600)"
# The host a record names as its peer, where its source says how it does.
_PEER = per_source_sql(lambda src: src.peer_sql)


def _suspect_sql(rule: Rule, params: list) -> str:
    parts = []
    for s in rule.suspect:
        if s == "self":
            parts.append("host")
        elif s == "peer":
            parts.append(_PEER)
        else:
            parts.append("nullif(regexp_extract(coalesce(message, '') || chr(10) || coalesce(data, ''), ?, 1), '')")
            params.append(s)
    return "coalesce(" + ", ".join(parts) + ")" if len(parts) > 1 else parts[0]


def _prefilter(rules: list[Rule], wheres: list[tuple[str, list]]) -> tuple[str, list]:
    """A condition every record some rule matches meets, cheap enough to test first:
    one regular expression (RE2 reads each text once, for all the rules' texts at
    once) where each rule's LIKE patterns read it again, many times over; rules that
    test other fields join it as they are."""
    needles: set[str] = set()
    others: list[tuple[str, list]] = []
    for rule, where in zip(rules, wheres):
        found = rule.needles()
        if found is None:
            others.append(where)
        else:
            needles |= found
    parts = [w for w, _ in others]
    params = [p for _, ps in others for p in ps]
    if needles:
        parts.insert(0, f"regexp_matches({MESSAGE_LOWER}, ?)")
        params.insert(0, "|".join(_literal(n) for n in sorted(needles)))
    return " OR ".join(f"({p})" for p in parts) or "FALSE", params


def _literal(text: str) -> str:
    """``text`` as an RE2 pattern that matches only itself."""
    return "".join(c if c.isalnum() or c == " " else f"\\x{{{ord(c):x}}}" for c in text)


def match_rules(store: Store, rules: list[Rule], addresses: dict[str, str] | None = None) -> int:
    """Write the ``symptoms`` table; ``addresses`` (normalised address -> host, the case
    file's ``hosts:``) turns suspects named by address into their hosts."""
    store.con.execute(f"CREATE OR REPLACE TABLE symptoms ({_COLUMNS})")
    # One scan of the events finds the records any rule matches (few, among millions);
    # each rule then reads only those, not the whole timeline join again.
    wheres = [rule.where() for rule in rules]
    matched = [False] * len(rules)
    if wheres:
        first, first_params = _prefilter(rules, wheres)
        store.con.execute(
            f"CREATE OR REPLACE TEMP TABLE _rule_hits AS SELECT file_id, record_no FROM {with_message_lower('events')} "
            f"WHERE ({first}) AND (" + " OR ".join(f"({w})" for w, _ in wheres) + ")",
            first_params + [p for _, ps in wheres for p in ps])
        hits = "(SELECT t.* FROM timeline t SEMI JOIN _rule_hits USING (file_id, record_no))"
        store.con.execute(f"CREATE OR REPLACE TEMP TABLE _rule_candidates AS SELECT * FROM {with_message_lower(hits)}")
        # Which rules matched anything, asked in one query: most match nothing, and a
        # statement per rule costs milliseconds even over no rows.
        matched = list(store.con.execute(
            "SELECT " + ", ".join(f"coalesce(bool_or({w}), false)" for w, _ in wheres) + " FROM _rule_candidates",
            [p for _, ps in wheres for p in ps]).fetchall()[0])
    for rule, (where, wparams), hit in zip(rules, wheres, matched):
        if not hit:
            continue
        sparams: list = []
        suspect = _suspect_sql(rule, sparams)
        store.con.execute(
            f"""INSERT INTO symptoms
                SELECT file_id, record_no, host, logged, true_time, uncertainty_s, segment_id,
                       ?, ?, ?, ?, ?, ?, ?, {suspect},
                       {_EXCERPT}, NULL
                FROM _rule_candidates WHERE {where}""",
            [rule.id, rule.title, rule.signature, rule.protocol, rule.tolerance_s, rule.role,
             rule.skew_signature] + sparams + wparams)
    if addresses:
        raws = [r for (r,) in store.con.execute(
            "SELECT DISTINCT suspect_raw FROM symptoms WHERE suspect_raw IS NOT NULL").fetchall()]
        rows = [(raw, host) for raw, _, host in address_rows(raws, addresses) if host]
        if rows:
            store.con.execute("CREATE OR REPLACE TEMP TABLE _addresses (raw VARCHAR, host VARCHAR)")
            store.con.executemany("INSERT INTO _addresses VALUES (?, ?)", rows)
            store.con.execute("""UPDATE symptoms SET suspect_address = suspect_raw, suspect_raw = a.host
                                 FROM _addresses a WHERE symptoms.suspect_raw = a.raw""")
    return store.con.execute("SELECT count(*) FROM symptoms").fetchall()[0][0]
