"""``make bench``: every benchmark suite, printed as a table and written as JSON.

``make bench SUITES="core normalize"`` runs some of them. A suite that fails is reported
and the others still run.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import tempfile
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import compile_daemon_modules, environment  # noqa: E402

SUITES = {
    "core": "bench_core",
    "normalize": "bench_normalize",
    "systemd": "bench_systemd",
    "speechd": "bench_speechd",
    "compare": "bench_compare",
}


def main() -> int:
    chosen = os.environ.get("SUITES", "").split() or list(SUITES)
    cache = Path(tempfile.mkdtemp(prefix="litettsd-bench-cache-"))
    compile_daemon_modules()
    results: dict[str, object] = {"environment": environment()}
    print(f"# {results['environment']}")
    for name in chosen:
        try:
            figures = importlib.import_module(SUITES[name]).run(cache)
        except Exception:
            traceback.print_exc()
            results[name] = {"error": traceback.format_exc(limit=3)}
            print(f"## {name}: FAILED")
            continue
        results[name] = figures
        print(f"## {name}")
        width = max(len(key) for key in figures)
        for key, value in figures.items():
            shown = f"{value:10.3f}" if isinstance(value, (int, float)) else str(value)
            print(f"{key:<{width}}  {shown}")
    out = Path(__file__).resolve().parent / "results.json"
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
