"""``make bench``: every benchmark suite, printed as a table and written as JSON."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_core  # noqa: E402
from common import environment  # noqa: E402


def main() -> int:
    cache = Path(tempfile.mkdtemp(prefix="litettsd-bench-cache-"))
    results = {"environment": environment(), "core": bench_core.run(cache)}
    width = max(len(key) for key in results["core"])
    print(f"# {results['environment']}")
    for key, value in results["core"].items():
        print(f"{key:<{width}}  {value:10.3f}")
    out = Path(__file__).resolve().parent / "results.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
