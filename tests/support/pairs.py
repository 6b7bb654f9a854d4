"""Evidence cut down to a host's SIP traces, for the clock tests of pairs alone."""

from __future__ import annotations


def _only_sip_traces(evidence, edge_folder):
    """Leave the Edge nothing but its SIPStack trace; drop the observation."""
    for name in ("System.xml", "Lync Server.xml", "Application.xml"):
        (evidence / edge_folder / name).unlink(missing_ok=True)
    case = (evidence / "case.yml").read_text()
    (evidence / "case.yml").write_text(case.split("observations:")[0])
