"""Placing a log's records on its host's segments (issue 22): the shortcuts that make a
build cheap give what working each boundary, run and build out on its own gives."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
from hypothesis import given, settings, strategies as st

from skewsleuth.clock.segments import (Boundary, Placements, Segment, _HostSegments, _passed_at, _run_costs,
                                       _runs)
from support.properties import examples

UTC = timezone.utc
T0 = datetime(2024, 5, 6, 8, 0, tzinfo=UTC)
US0 = int(T0.timestamp() * 1e6)


def _segments(cuts: list[tuple[float, float, str, int]]) -> list[Segment]:
    """One host's segments between boundaries (seconds after T0 of the old clock's
    last reading and the new one's first, the kind, the log that shows it)."""
    chain = [Boundary("h", kind, file_id, 100 + k, 100 + k, T0 + timedelta(seconds=before),
                      T0 + timedelta(seconds=after), None)
             for k, (before, after, kind, file_id) in enumerate(cuts)]
    return [Segment(k, "h", k, chain[k - 1] if k else None, chain[k] if k < len(chain) else None,
                    chain[k - 1].after if k else None, chain[k].before if k < len(chain) else None)
            for k in range(len(chain) + 1)]


cuts = st.lists(st.tuples(st.integers(0, 7200), st.integers(-600, 600), st.sampled_from(["boot", "step"]),
                          st.integers(1, 3)).map(lambda c: (c[0], c[0] + c[1], c[2], c[3])), max_size=6)
times = st.lists(st.integers(-600, 8000), min_size=1, max_size=60).map(
    lambda xs: np.array([US0 + x * 1_000_000 for x in xs], dtype=np.int64))


@settings(max_examples=examples(200), deadline=None)
@given(cuts, times, st.integers(1, 4))
def test_a_log_passes_a_boundary_at_every_record_whose_predecessor_reads_earlier(cut, us, file_id):
    """The positions found by two binary searches over every boundary's time are
    those found boundary by boundary: where the record before reads earlier than the
    time and this one at it or later (later only, unless the clock came up later
    than it went down), for each boundary the log does not show."""
    hs = _HostSegments(_segments(cut))
    expected: set[int] = set()
    for closed_in, (came_up_later, at) in zip(hs.closed_in, hs.passed_at):
        if closed_in is not None and file_id not in closed_in:
            later = us >= at if came_up_later else us > at
            expected |= set((np.flatnonzero(later[1:] & ~later[:-1]) + 1).tolist())
    assert set(hs.passes(us, file_id).tolist()) == expected


def test_a_boundary_passed_at_its_own_time_is_passed_by_the_record_reading_it():
    """A reboot the clock came up later across is passed at the new clock's first
    time (>=), a step at the old clock's last (>): the edge cases of the searches."""
    segs = _segments([(100, 200, "boot", 1), (1000, 900, "step", 1)])
    hs = _HostSegments(segs)
    assert [_passed_at(s.closed_by)[0] for s in segs[:2]] == [True, False]
    us = np.array([US0 + s * 1_000_000 for s in (150, 200, 900, 1000, 1001)], dtype=np.int64)
    assert hs.passes(us, 2).tolist() == [1, 4]


def _reference_costs(us, runs, hs, pinned, ranges):
    """The costs as worked out run by run (how skewsleuth did it before issue 22)."""
    S = len(hs.starts)
    cost = np.zeros((len(runs), S))
    for r, (a, b, _) in enumerate(runs):
        first, last = us[a], us[b - 1]
        cost[r] = (np.maximum(hs.lo - first, 0) + np.maximum(first - hs.hi, 0)
                   + np.maximum(hs.lo - last, 0) + np.maximum(last - hs.hi, 0)) / 1e6
    starts = hs.starts
    for r, (a, _, _) in enumerate(runs):
        since_open = np.where(~np.isfinite(starts), 4e8,
                              np.where(starts <= us[a], np.minimum((us[a] - starts) / 1e6, 3e8),
                                       5e8 + np.minimum((starts - us[a]) / 1e6, 3e8)))
        cost[r] += 1e-12 * since_open
        if pinned and a in pinned:
            forced = np.full(S, np.inf)
            last = ranges.get(a, pinned[a])
            forced[pinned[a]:last + 1] = 0.0 if last == pinned[a] else cost[r, pinned[a]:last + 1]
            cost[r] = forced
        elif pinned:
            later = [pinned[q] for q in pinned if q > a]
            if later:
                cost[r, min(later):] = np.inf
    return cost


@settings(max_examples=examples(200), deadline=None)
@given(cuts.filter(bool), times, st.data())
def test_every_run_is_weighed_against_every_segment_as_one_run_at_a_time_was(cut, us, data):
    """Bit for bit: the placement's choices rest on ties a last bit would break."""
    segs = _segments(cut)
    hs = _HostSegments(segs)
    at = sorted(data.draw(st.sets(st.integers(1, max(len(us) - 1, 1)), max_size=4)) - {len(us)})
    runs = _runs(us, at)
    starts = [a for a, _, _ in runs]
    pinned = {a: data.draw(st.integers(0, len(segs) - 1)) for a in data.draw(st.sets(st.sampled_from(starts)))}
    ranges = {a: data.draw(st.integers(k, len(segs) - 1)) for a, k in pinned.items() if data.draw(st.booleans())}
    got = _run_costs(us, runs, hs, pinned, ranges)
    assert got.tobytes() == _reference_costs(us, runs, hs, pinned, ranges).tobytes()


def test_placements_are_kept_for_the_builds_after_a_trial_then_dropped():
    """A build after a trial finds what the build before the trial placed; one more
    build later it is gone (memory stays two builds' worth)."""
    placed = Placements()
    windows = ((None, T0),)
    placed.built({windows: {"log": "before the trial"}})
    placed.built({("trial",): {"log": "the trial's"}})
    assert placed.of_host(windows) == [{"log": "before the trial"}]
    placed.built({("trial",): {}})
    assert placed.of_host(windows) == []


def test_a_copy_of_a_boundary_shares_nothing_a_later_phase_changes():
    b = Boundary("h", "boot", 1, 5, 5, T0, T0 + timedelta(minutes=1), None, openers={2: 7}, seqs={2: 7},
                 evidence=["boot"])
    c = b.copy()
    c.openers[3], c.seqs[3] = 9, 9
    c.evidence.append("more")
    c.loose.add(2)
    c.before = None
    assert (b.openers, b.seqs, b.evidence, b.loose, b.before) == ({2: 7}, {2: 7}, ["boot"], set(), T0)
    assert c == Boundary("h", "boot", 1, 5, 5, None, T0 + timedelta(minutes=1), None, openers={2: 7, 3: 9},
                         seqs={2: 7, 3: 9}, evidence=["boot", "more"], loose={2})


def test_a_recut_the_last_trial_made_is_not_built_and_solved_again(evtx_dir, monkeypatch):
    """On the sample EVTX files one dropped leap is cut again, by the last trial: the
    model takes that trial's segments and solution, and the verdict is the one that
    building and solving once more gives."""
    import skewsleuth
    from skewsleuth.clock import model, segments

    builds = []
    build = segments.Segmenter.build
    monkeypatch.setattr(segments.Segmenter, "build", lambda self, extra=None: builds.append(1) or build(self, extra))
    reused = skewsleuth.investigate([evtx_dir]).to_dict()
    taken = len(builds)
    monkeypatch.setattr(model, "_same_cuts", lambda a, b: False)
    builds.clear()
    assert skewsleuth.investigate([evtx_dir]).to_dict() == reused
    assert len(builds) == taken + 1
