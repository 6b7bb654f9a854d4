"""Code run in a fresh interpreter, for what a module imports: in the test's own process a
module imported once by any test stays imported."""

from __future__ import annotations

import json
import subprocess
import sys


def fresh(code: str) -> dict:
    """Run ``code`` in a new interpreter; it leaves its answer in ``out`` (a dict),
    given back with the top-level packages it had loaded by the end."""
    wrapper = (f"import sys, json\nout = {{}}\n{code}\n"
               "out['loaded'] = sorted({m.split('.')[0] for m in sys.modules})\n"
               "sys.__stderr__.write(json.dumps(out))\n")
    r = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stderr) | {"stdout": r.stdout}
