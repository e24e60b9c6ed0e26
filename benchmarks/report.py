"""`bazaar report` end to end on a lake of N trades (default 1,000,000): the command as a
user runs it (a fresh process: imports, every question, the report's series, writing the
file), three timed runs, median. The lake is the one `benchmarks/queries.py` generates
(ten days of trades, so the report's buckets are 5 hours wide), reused when it exists.

To compare two versions of the code, point --src at another checkout's `src` directory:

    .venv/bin/python benchmarks/report.py                       # 1 M trades, this checkout
    .venv/bin/python benchmarks/report.py --src /tmp/base/src   # the same lake, older code
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from queries import generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trades", type=int, default=1_000_000)
    parser.add_argument("--lake", type=Path)
    parser.add_argument("--src", type=Path, default=Path(__file__).parents[1] / "src")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    lake = args.lake or Path(f"/tmp/bazaar-bench-lake-{args.trades}")
    if not lake.exists():
        began = time.monotonic()
        counts = generate(lake, args.trades)
        print(f"generated {lake} in {time.monotonic() - began:.0f} s: {counts}")
    env = {**os.environ, "PYTHONPATH": str(args.src.resolve())}
    took = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.html"
        for _ in range(args.runs):
            began = time.monotonic()
            subprocess.run(
                [sys.executable, "-m", "bazaar", "report", "--lake", str(lake), "--out", str(out)],
                check=True, env=env, capture_output=True,
            )  # fmt: skip
            took.append(time.monotonic() - began)
        size = out.stat().st_size
    print(
        f"bazaar report ({args.src}): median {statistics.median(took):.2f} s "
        f"(min {min(took):.2f}, max {max(took):.2f}; runs {', '.join(f'{t:.2f}' for t in took)});"
        f" file {size / 1e6:.1f} MB"
    )


if __name__ == "__main__":
    main()
