"""The verdicts the restructure must not change, written once and compared byte for byte.

Each case investigates evidence that is rebuilt from scratch (seeded generators, the
real EVTX samples in the repository) and renders the verdict JSON as ``--json`` writes
it, with the evidence folder written as ``<evidence>``. ``python tests/golden/verdicts.py
--write`` rewrites the files: only for a change that is meant to alter verdicts, and the
diff belongs in that commit.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
EVTX_DIR = ROOT / "tests" / "data" / "evtx"
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))


# Digits the product does not yet give the same way every run, per case, and why. A
# drifting segment's rate is fitted to one reading per time bucket, and of equal
# readings DuckDB's arg_min keeps whichever its threads met first: the bounds move by
# 0.01 ppm between runs on this case (a deterministic tie-break moved the fitted rates
# too, and belongs with the clock model's rework).
UNSTABLE = {"two-edges-sip-only": re.compile(r'("drift_(?:low_|high_)?ppm": )-?[0-9.]+')}


def _verdict(paths: list[Path], root: Path, case: Path | None = None) -> str:
    import skewsleuth
    from skewsleuth.errors import InputError
    try:
        data: dict | list = skewsleuth.investigate(paths, case=case).to_dict()
    except InputError as exc:
        data = {"input_error": str(exc)}
    text = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
    return text.replace(str(root), "<evidence>")


def _scenario(name: str, sip_only: str | None = None) -> Callable[[Path], str]:
    def run(tmp: Path) -> str:
        from skewsleuth.demo.scenario import SEED, write_evidence
        from synth.scenarios import two_edges_scenario
        sc = SEED if name == "seed" else two_edges_scenario()
        evidence = write_evidence(sc, tmp / "evidence")
        if sip_only:
            for f in ("System.xml", "Lync Server.xml", "Application.xml"):
                (evidence / sip_only / f).unlink(missing_ok=True)
            case = (evidence / "case.yml").read_text()
            (evidence / "case.yml").write_text(case.split("observations:")[0])
        return _verdict([evidence], tmp)
    return run


def _corpus(hosts: int, events: int, **kw) -> Callable[[Path], str]:
    def run(tmp: Path) -> str:
        from synth.corpus import write_corpus
        if kw.pop("with_evtx", False):
            kw["evtx"] = EVTX_DIR
        write_corpus(tmp / "fleet", hosts, events, **kw)
        return _verdict([tmp / "fleet"], tmp)
    return run


def _evtx(name: str | None) -> Callable[[Path], str]:
    def run(tmp: Path) -> str:
        src = tmp / "evtx"
        src.mkdir()
        for f in sorted(EVTX_DIR.glob("*.evtx")):
            if name is None or f.name == name:
                shutil.copy(f, src / f.name)
        return _verdict([src], tmp)
    return run


def _fleet(n_hosts: int, round_trips: int, **kw) -> Callable[[Path], str]:
    """A fleet loaded straight into a store: the clock model's segments, as solved."""
    def run(tmp: Path) -> str:
        from skewsleuth.case import Case
        from skewsleuth.clock.model import build_clock_model
        from skewsleuth.store import Store
        from synth.fleet import load_fleet, make_fleet
        fleet, events, _ = make_fleet(n_hosts, round_trips, **kw)
        store = Store()
        load_fleet(store, events)
        model = build_clock_model(store, Case(references=[fleet.hosts[0]], reference_accuracy_s=0.0005))
        rows = [{"segment": e.segment.segment_id, "host": e.segment.host, "offset_s": round(e.offset_s, 6),
                 "low": round(e.interval.low, 6), "high": round(e.interval.high, 6), "basis": e.interval.basis,
                 "drift": None if e.drift is None else [round(e.drift.rate * 1e6, 4), round(e.drift.low * 1e6, 4),
                                                        round(e.drift.high * 1e6, 4)]}
                for e in model.segments]
        return json.dumps({"segments": rows, "contradictions": len(model.contradictions)}, indent=2) + "\n"
    return run


CASES: dict[str, Callable[[Path], str]] = {
    "seed": _scenario("seed"),
    "seed-sip-only": _scenario("seed", sip_only="srv-lyncedge01"),
    "two-edges": _scenario("two-edges"),
    "two-edges-sip-only": _scenario("two-edges", sip_only="sfb-edge02"),
    "corpus-12-hosts": _corpus(12, 20_000, seed=3, faults=0.5),
    "corpus-mixed": _corpus(7, 2_000, seed=5, layout="mixed"),
    "corpus-eventxml": _corpus(6, 6_000, formats=["eventxml"], incident=False, faults=0.5, seed=5),
    "corpus-journald": _corpus(4, 4_000, formats=["journald"], incident=False, faults=0),
    "corpus-rfc3164": _corpus(4, 8_000, formats=["rfc3164"], incident=True, faults=0.5, seed=7),
    "corpus-rfc5424": _corpus(4, 8_000, formats=["rfc5424"], incident=True, faults=0.5, seed=7),
    "corpus-sipstack": _corpus(4, 8_000, formats=["sipstack"], incident=True, faults=0.5, seed=7),
    "corpus-applog": _corpus(4, 8_000, formats=["applog"], incident=True, faults=0.5, seed=7),
    "corpus-with-evtx": _corpus(6, 600, with_evtx=True),
    "fleet-steps": _fleet(6, 6000, steps_per_host=0.5, seed=11),
    "fleet-drift": _fleet(12, 3000, drift_ppm=40.0, seed=5),
    "evtx-all": _evtx(None),
    **{f"evtx-{f.stem}": _evtx(f.name) for f in sorted(EVTX_DIR.glob("*.evtx"))},
}


def render(name: str) -> str:
    with tempfile.TemporaryDirectory(prefix="golden-") as tmp:
        text = CASES[name](Path(tmp))
    return UNSTABLE[name].sub(r"\1<unstable>", text) if name in UNSTABLE else text


def path_of(name: str) -> Path:
    return HERE / f"{name}.json"


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/golden/verdicts.py --write   (rewrites every golden verdict)")
    for name in CASES:
        path_of(name).write_text(render(name), encoding="utf-8")
        print(name, file=sys.stderr)
