"""Run the rule pack over the timeline and write the ``symptoms`` table.

A symptom keeps where it came from (file, record), who logged it, its logged and true
time, the rule's protocol and tolerance, and the two clocks it involves: the logging
host's, as the rule's judge or writer (``logged_by``), and the other one's host where
the record names it (``other_raw``, from the first of the rule's ``other`` sources that
yields a name: a field pattern or the SIP ``peer``). A host named by an address the
case file's ``hosts:`` maps is replaced by its host; ``other_address`` keeps the address
it was named by. Accusing neither is the matcher's job: rca weighs them.

``judged_peers`` holds, for the judges of rules that name the other clock and say which
of the judge's records accepted it (``clocks.accepted``), every host they accepted or
failed: a judge that accepted other peers' times while failing one is evidence about
the one (rca.py).
"""

from __future__ import annotations

from ..case import address_rows
from ..sources import per_source_sql
from ..store import Store
from . import MESSAGE_LOWER, PEER, Rule, with_message_lower

_COLUMNS = """
  file_id BIGINT, record_no BIGINT, host VARCHAR, logged TIMESTAMPTZ, true_time TIMESTAMPTZ,
  uncertainty_s DOUBLE, segment_id INTEGER, rule_id VARCHAR, title VARCHAR, signature VARCHAR,
  protocol VARCHAR, tolerance_s DOUBLE, role VARCHAR, skew_signature BOOLEAN, other_raw VARCHAR,
  excerpt VARCHAR, other_address VARCHAR, logged_by VARCHAR, writer_role VARCHAR, judge_role VARCHAR,
  trusted VARCHAR
"""
_JUDGED_COLUMNS = "host VARCHAR, rule_id VARCHAR, other_raw VARCHAR, logged TIMESTAMPTZ, failed BOOLEAN"


# What a person needs to see of a symptom: what its source shows of a record (a SIP
# record's start line and diagnostics), else its text.
_TEXT = "coalesce(message, data, '')"
_EXCERPT = f"left({per_source_sql(lambda src: src.excerpt_sql, default=_TEXT)}, 600)"
# The host a record names as its peer, where its source says how it does.
_PEER = per_source_sql(lambda src: src.peer_sql)


def other_sql(rule: Rule, params: list, *, patterns_only: bool = False) -> str:
    """SQL for the host a record names as the rule's other clock (NULL: not named);
    ``patterns_only``: by the rule's patterns, not by the SIP peer."""
    parts = []
    for s in rule.clocks.other:
        if s == PEER and patterns_only:
            continue
        if s == PEER:
            parts.append(_PEER)
        else:
            parts.append("nullif(regexp_extract(coalesce(message, '') || chr(10) || coalesce(data, ''), ?, 1), '')")
            params.append(s)
    if not parts:
        return "CAST(NULL AS VARCHAR)"
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
    store.con.execute(f"CREATE OR REPLACE TABLE judged_peers ({_JUDGED_COLUMNS})")
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
        # statement per rule costs milliseconds even over no rows. With no candidate at
        # all (most small cases), not even that one (~15 ms of planning).
        if store.has_rows("_rule_hits"):
            matched = list(store.con.execute(
                "SELECT " + ", ".join(f"coalesce(bool_or({w}), false)" for w, _ in wheres) + " FROM _rule_candidates",
                [p for _, ps in wheres for p in ps]).fetchall()[0])
    for rule, (where, wparams), hit in zip(rules, wheres, matched):
        if not hit:
            continue
        oparams: list = []
        other = other_sql(rule, oparams)
        c = rule.clocks
        store.con.execute(
            f"""INSERT INTO symptoms
                SELECT file_id, record_no, host, logged, true_time, uncertainty_s, segment_id,
                       ?, ?, ?, ?, ?, ?, ?, {other},
                       {_EXCERPT}, NULL, ?, ?, ?, ?
                FROM _rule_candidates WHERE {where}""",
            [rule.id, rule.title, rule.signature, rule.protocol, rule.tolerance_s, rule.role,
             rule.skew_signature] + oparams + [c.logged_by, c.writer, c.judge, c.trusted] + wparams)
        if c.logged_by == "judge" and c.accepted and any(o != PEER for o in c.other) and rule.role == "symptom":
            _judged_peers(store, rule, where, wparams)
    if addresses:
        raws = [r for (r,) in store.con.execute(
            "SELECT DISTINCT other_raw FROM symptoms WHERE other_raw IS NOT NULL "
            "UNION SELECT DISTINCT other_raw FROM judged_peers").fetchall()]
        rows = [(raw, host) for raw, _, host in address_rows(raws, addresses) if host]
        if rows:
            store.con.execute("CREATE OR REPLACE TEMP TABLE _addresses (raw VARCHAR, host VARCHAR)")
            store.con.executemany("INSERT INTO _addresses VALUES (?, ?)", rows)
            store.con.execute("""UPDATE symptoms SET other_address = other_raw, other_raw = a.host
                                 FROM _addresses a WHERE symptoms.other_raw = a.raw""")
            store.con.execute("""UPDATE judged_peers SET other_raw = a.host
                                 FROM _addresses a WHERE judged_peers.other_raw = a.raw""")
    return store.con.execute("SELECT count(*) FROM symptoms").fetchall()[0][0]


def _judged_peers(store: Store, rule: Rule, where: str, wparams: list) -> None:
    """Every host the judges of ``rule`` accepted the time of (its ``clocks.accepted``
    records: a DC's 4768 tickets issued beside its 4771 0x25 failures), and every one
    they failed, each with whether the rule matched it. Only the names the rule's
    patterns read: a SIP record's peer is named by every record of a dialog."""
    oparams: list = []
    other = other_sql(rule, oparams, patterns_only=True)
    accepted, aparams = rule.accepted_where()
    store.con.execute(
        f"""INSERT INTO judged_peers
            WITH judges AS (SELECT DISTINCT host FROM _rule_candidates WHERE {where})
            SELECT e.host, ?, {other}, e.logged, FALSE
            FROM {with_message_lower('events')} e SEMI JOIN judges j ON e.host = j.host
            WHERE ({accepted}) AND {other} IS NOT NULL
            UNION ALL
            SELECT host, rule_id, other_raw, logged, TRUE FROM symptoms WHERE rule_id = ? AND other_raw IS NOT NULL""",
        wparams + [rule.id] + oparams + aparams + oparams + [rule.id])
