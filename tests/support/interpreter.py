"""Code run in a fresh interpreter, for what a module imports: in the test's own process a
module imported once by any test stays imported."""

from __future__ import annotations

import json
import subprocess
import sys

_MARK = "\nFRESH-INTERPRETER "


def fresh(code: str) -> dict:
    """Run ``code`` in a new interpreter; it leaves its answer in ``out`` (a dict),
    given back with the top-level packages it had loaded by the end, and what it wrote
    to stdout and stderr."""
    wrapper = (f"import sys, json\nout = {{}}\n{code}\n"
               "out['loaded'] = sorted({m.split('.')[0] for m in sys.modules})\n"
               f"sys.__stderr__.write({_MARK!r} + json.dumps(out))\n")
    r = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and _MARK in r.stderr, r.stderr
    stderr, answer = r.stderr.rsplit(_MARK, 1)
    return json.loads(answer) | {"stdout": r.stdout, "stderr": stderr}


def pandas_after_an_array(_: int) -> bool:
    """In a reader process: whether pandas is loaded once pyarrow built an array."""
    import pyarrow as pa

    pa.array([1, 2])
    return sys.modules.get("pandas") is not None
