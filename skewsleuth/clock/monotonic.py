"""Clock steps and boots read from a log's monotonic clock (journald's, today).

A systemd journal entry carries two clocks: ``__REALTIME_TIMESTAMP`` (the wall clock,
CLOCK_REALTIME, which is what ``logged`` is) and ``__MONOTONIC_TIMESTAMP``
(CLOCK_MONOTONIC, microseconds since the boot named by ``_BOOT_ID``). The monotonic
clock is never set, so within one boot ``d = realtime - monotonic`` stays the same
from one record to the next, slewing included (the kernel slews both), and changes
only where:

* the clock was stepped: ``d`` changes by exactly the step (to the microsecond);
* the host slept: CLOCK_MONOTONIC does not count suspend, so ``d`` jumps forward by
  the time asleep. A forward change next to a suspend record (systemd-sleep's
  "Entering sleep state" / "System returned from sleep state", the kernel's
  "PM: suspend entry" / "PM: suspend exit") is a *resume*, not a step.

journald reads both clocks one after the other, so ``d`` jitters by microseconds;
changes under :data:`~.segments.STEP_MIN_S` are not steps. A new boot id in a log is
a boot at its first record, whether or not a kernel banner was logged there (boots
seen twice are merged by :func:`~.segments.explicit_boundaries`, as are steps that a
time service logged too).

Who stepped the clock: the time service (chronyd, systemd-timesyncd, ntpd) that logged
on the host within seconds after the step, else unknown. When that service's own
record states the same step (chronyd "System clock was stepped by"), the two facts
merge into one boundary and the service's record stays its evidence: the monotonic
fact then corroborates it without evidence text of its own.

Which formats carry these clocks, and how, comes from their ``Source``
(``boot_sql``, ``monotonic_us_sql``). Everything is found in one query; Python sees
only the facts.

References: systemd.journal-fields(7) ("Address Fields": ``__REALTIME_TIMESTAMP``,
``__MONOTONIC_TIMESTAMP``; ``_BOOT_ID``); sd_journal_get_monotonic_usec(3)
(CLOCK_MONOTONIC, defined only with the boot id); clock_gettime(2) (CLOCK_MONOTONIC
does not count suspend, is affected by adjtime); Linux kernel/power/suspend.c
(``PM: suspend entry`` / ``PM: suspend exit``); systemd src/sleep/sleep.c.
"""

from __future__ import annotations

from datetime import timedelta

from ..schema import cite
from ..sources import format_in, formats, per_source_sql
from ..store import Store
from ..timefmt import UTC_FORMAT, Format
from .facts import _TEXT_FACTS, SEQ, ClockFact, classify_setter
from .segments import STEP_MIN_S

SOURCE = "journald monotonic"
# Who steps the clock and logs it: a record of one of these on the host within
# SETTER_AFTER_S after the step's first record names the setter.
TIME_SERVICES = ("chronyd", "systemd-timesyncd", "ntpd", "ntpdate", "sntp", "openntpd")
SETTER_AFTER_S = 10.0
# A time service's own record of a step (chronyd "System clock was stepped by", ntpd):
# the step it states is merged with ours when they agree as explicit_boundaries merges
# them (same size within MERGE_S, logged within MERGE_S), and that record is the evidence.
STATED_STEPS = [(provider, rx) for kind, provider, rx in _TEXT_FACTS if kind == "step"]
MERGE_S = 2.0
# Records that say the host is going to sleep (logged on the old clock, just before the
# change) or has woken up (on the new clock, just after), and how far (monotonic time)
# from the change they may lie.
SLEEP_PROVIDERS = ("kernel", "systemd-sleep", "systemd-logind", "systemd")
GOING_RX = (r"Entering sleep state|Suspending system\.\.\.|PM: (suspend|hibernation) entry|"
            r"PM: hibernation: hibernation entry|PM: Syncing filesystems|The system will (suspend|hibernate) now|"
            r"Starting System (Suspend|Hibernate)|Reached target Sleep")
WAKING_RX = (r"System returned from sleep state|System resumed|PM: (suspend|hibernation) exit|"
             r"PM: hibernation: hibernation exit|ACPI: (PM: )?Waking up from system sleep state|PM: resume")
SLEEP_NEAR_S = 60.0


def monotonic_facts(store: Store, when: Format = UTC_FORMAT) -> list[ClockFact]:
    """Steps, resumes and boots that the logs' monotonic clocks show, in (host, file,
    record) order."""
    carries = lambda s: s.monotonic_us_sql is not None and s.boot_sql is not None  # noqa: E731
    if not formats(carries):
        return []
    has = format_in(carries)
    # Every row below comes from these records: with none (no journal among the
    # evidence) there is nothing, and planning the statement (~15 ms) is skipped.
    if not store.has_rows(f"events WHERE {has}"):
        return []
    boot = per_source_sql(lambda s: s.boot_sql)
    mono = per_source_sql(lambda s: s.monotonic_us_sql)
    step_us = int(STEP_MIN_S * 1e6)
    near_us = int(SLEEP_NEAR_S * 1e6)
    merge_us = int(MERGE_S * 1e6)
    stated = " OR ".join(f"(t.provider = ? AND abs(TRY_CAST(regexp_extract(t.message, ?, 1) AS DOUBLE) * 1e6"
                         f" - (c.d - c.prev_d)) < {merge_us})" for _ in STATED_STEPS) or "FALSE"
    rows = store.con.execute(f"""
        WITH m AS MATERIALIZED (
          -- the JSON is read once: a filter on these columns here would be pushed down
          -- and read it again
          SELECT host, file_id, record_no, {SEQ} AS seq, logged, {boot} AS boot_id, {mono} AS mono
          FROM events WHERE {has}),
        usable AS (SELECT *, epoch_us(logged) - mono AS d FROM m
                   WHERE boot_id IS NOT NULL AND boot_id <> '' AND mono >= 0),
        -- per log and boot: where it starts, and whether d moves at all (most never do,
        -- and need no sort)
        parts AS (
          SELECT host, file_id, boot_id, max(d) - min(d) AS spread, min(seq) AS seq,
                 arg_min(record_no, seq) AS record_no, arg_min(logged, seq) AS logged
          FROM usable GROUP BY ALL),
        w AS (
          SELECT *, lag(d) OVER o AS prev_d, lag(mono) OVER o AS prev_mono,
                 lag(logged) OVER o AS prev_logged, lag(seq) OVER o AS prev_seq
          FROM usable SEMI JOIN (SELECT host, file_id, boot_id FROM parts WHERE spread >= {step_us})
                 USING (host, file_id, boot_id)
          WINDOW o AS (PARTITION BY file_id, host, boot_id ORDER BY mono, seq, record_no)),
        changes AS (SELECT * FROM w WHERE abs(d - prev_d) >= {step_us}),
        -- the few records that may speak of sleep first, then their words
        sleeps AS (
          SELECT * FROM (
            SELECT host, file_id, {boot} AS boot_id, {mono} AS mono, epoch_us(logged) - mono AS d, message,
                   -- CASE: the expressions run only on the rows of these providers
                   CASE WHEN provider IN ({_sql_list(SLEEP_PROVIDERS)}) THEN regexp_matches(message, ?) END AS going,
                   CASE WHEN provider IN ({_sql_list(SLEEP_PROVIDERS)}) THEN regexp_matches(message, ?) END AS waking
            FROM events WHERE {has} AND provider IN ({_sql_list(SLEEP_PROVIDERS)}))
          WHERE (going OR waking) AND mono IS NOT NULL),
        -- A forward change with a sleep record on its side of it: going to sleep on the
        -- old clock just before, or waking on the new one just after (a step soon after
        -- waking or before sleeping has them on the other side).
        slept AS (
          SELECT c.file_id, c.record_no, min(s.message) AS said
          FROM changes c JOIN sleeps s USING (host, file_id, boot_id)
          WHERE c.d > c.prev_d
            AND ((s.going AND abs(s.d - c.prev_d) < {step_us}
                  AND s.mono BETWEEN c.prev_mono - {near_us} AND c.prev_mono)
              OR (s.waking AND abs(s.d - c.d) < {step_us} AND s.mono BETWEEN c.mono AND c.mono + {near_us}))
          GROUP BY ALL),
        -- The time service that logged within seconds after the step made it; when its
        -- record states this very step, that record is the evidence.
        setters AS (
          SELECT c.file_id, c.record_no, arg_min(t.provider, t.logged) AS provider,
                 coalesce(bool_or(abs(epoch_us(t.logged) - epoch_us(c.logged)) < {merge_us} AND ({stated})), FALSE)
                   AS stated
          FROM changes c JOIN events t ON t.host = c.host
          WHERE t.provider IN ({_sql_list(TIME_SERVICES)})
            AND epoch_us(t.logged) BETWEEN epoch_us(c.logged) - {merge_us}
                                       AND epoch_us(c.logged) + {int(SETTER_AFTER_S * 1e6)}
          GROUP BY ALL),
        new_boots AS (
          SELECT *, lag(boot_id) OVER (PARTITION BY host, file_id ORDER BY seq, record_no) AS prev_boot
          FROM parts)
        SELECT CASE WHEN s.said IS NULL THEN 'step' ELSE 'resume' END AS kind,
               c.host, c.file_id, c.record_no, c.seq, c.logged, c.boot_id,
               c.d - c.prev_d AS delta_us, c.prev_logged, c.prev_seq, s.said, t.provider,
               coalesce(t.stated, FALSE), f.path
        FROM changes c LEFT JOIN slept s USING (file_id, record_no)
             LEFT JOIN setters t USING (file_id, record_no) LEFT JOIN files f USING (file_id)
        UNION ALL
        SELECT 'boot', b.host, b.file_id, b.record_no, b.seq, b.logged, b.boot_id,
               NULL, NULL, NULL, b.prev_boot, NULL, FALSE, f.path
        FROM new_boots b LEFT JOIN files f USING (file_id)
        WHERE b.prev_boot IS NOT NULL
        ORDER BY host, file_id, seq, record_no, kind""",
        [GOING_RX, WAKING_RX] + [v for provider, rx in STATED_STEPS for v in (provider, rx.pattern)]).fetchall()
    facts: list[ClockFact] = []
    for kind, host, file_id, record_no, seq, logged, boot_id, delta_us, prev_logged, prev_seq, said, \
            setter_provider, stated, path in rows:
        where = f"{path or f'file {file_id}'}"
        fact = ClockFact(host, kind, file_id, record_no, seq, logged, SOURCE, ref=cite(where, seq))
        if kind == "boot":
            fact.boot_id = boot_id
            fact.evidence.append(f"{SOURCE} on {host}: {fact.ref} is the first record of boot "
                                 f"{boot_id} (after boot {said}), logged at {when(logged)}")
        elif kind == "resume":
            # Not a step: the clock kept true time while the host slept.
            fact.before, fact.after = prev_logged, logged
            fact.evidence.append(f"{SOURCE} on {host}: realtime - monotonic goes forward by {delta_us / 1e6:.6f} s "
                                 f"between {cite(where, prev_seq)} ({when(prev_logged)}) and {fact.ref} "
                                 f"({when(logged)}), across a suspend ({said!r})")
        else:
            delta = delta_us / 1e6
            # The step lies between the two records; its size is exact, and the first
            # record after it reads the new clock.
            fact.delta_s = delta
            fact.after = logged
            fact.before = logged - timedelta(microseconds=delta_us)
            fact.earliest = min(prev_logged, fact.before)
            if setter_provider is not None:
                fact.process = setter_provider
                fact.setter = classify_setter(setter_provider)
            if not stated:   # else the time service's record says it, and the fact corroborates
                fact.evidence.append(
                    f"{SOURCE} on {host}: realtime - monotonic changes by {delta:+.6f} s in boot {boot_id} between "
                    f"{cite(where, prev_seq)} ({when(prev_logged)}) and {fact.ref} ({when(logged)}): "
                    f"the clock was set from {when(fact.before)} to {when(fact.after)}"
                    + (f", by {setter_provider} (logged within {SETTER_AFTER_S:g} s)" if setter_provider else ""))
        facts.append(fact)
    return facts


def _sql_list(names: tuple[str, ...]) -> str:
    return ", ".join("'" + n.replace("'", "''") + "'" for n in names)
