"""How long `vidrop --help` spends importing: the median over fresh processes of importing
vidrop.cli, and whether torch came with it (it should not).

    python scripts/bench_imports.py [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

from vidrop.machine import command_line, cpu_name

PROBE = (
    "import sys, time; t = time.perf_counter(); import vidrop.cli; "
    "print(time.perf_counter() - t, 'torch' in sys.modules)"
)

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=7, help="fresh processes timed")
    args = ap.parse_args()
    times, torch_loaded = [], set()
    for _ in range(args.runs):
        out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True)
        seconds, loaded = out.stdout.split()
        times.append(float(seconds))
        torch_loaded.add(loaded)
    print(f"command: {command_line()}\nmachine: {cpu_name()}")
    print(
        f"import vidrop.cli: median {statistics.median(times):.3f} s over {args.runs} fresh "
        f"processes (min {min(times):.3f}, max {max(times):.3f}); torch imported: "
        f"{', '.join(sorted(torch_loaded))}"
    )
