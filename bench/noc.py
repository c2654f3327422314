"""Sweep `hwsim synthetic` on a mesh: analytic model against the cycle-level simulator.

Prints a Markdown table, one row per injection rate: the analytic mean latency (unbounded FIFOs,
M/D/1 per channel) and, from the simulation (finite VC buffers, credit back-pressure), the
offered and accepted rates, mean latency, whether it saturated, and the CPU seconds it took.
This is the table in docs/hwsim.md (NoC section).

Run: .venv/bin/python bench/noc.py [--mesh 8x8] [--rates 0.1,0.2,...] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

# bench/hwsim.py is named like the package: keep `import hwsim` from finding it instead
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

from hwsim.nocsim import simulate  # noqa: E402
from hwsim.synthetic import synthetic  # noqa: E402

RATES = "0.05,0.1,0.2,0.3,0.35,0.38,0.4,0.41,0.42,0.43,0.45,0.5"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mesh", default="8x8")
    ap.add_argument("--pattern", default="uniform")
    ap.add_argument("--rates", default=RATES)
    ap.add_argument("--warmup", type=int, default=1000)
    ap.add_argument("--cycles", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rows, cols = (int(x) for x in args.mesh.lower().split("x"))
    print(
        "| rate | analytic latency | sim offered | sim accepted | sim latency | saturated | CPU s |"
    )
    print("|---|---|---|---|---|---|---|")
    for rate in (float(r) for r in args.rates.split(",")):
        a = synthetic(rows, cols, args.pattern, rate)
        t0 = time.process_time()
        s = simulate(
            rows, cols, args.pattern, rate, warmup=args.warmup, measure=args.cycles,
            seed=args.seed,
        )
        cpu = time.process_time() - t0
        alat = "unbounded" if a.mean_latency_cycles is None else f"{a.mean_latency_cycles:.1f}"
        slat = "-" if s.mean_latency_cycles is None else f"{s.mean_latency_cycles:.1f}"
        if s.saturated:
            slat = f"> {slat}, growing"
        print(
            f"| {rate:g} | {alat} | {s.offered_rate:.3f} | {s.accepted_rate:.3f} | {slat} | "
            f"{'yes' if s.saturated else 'no'} | {cpu:.2f} |"
        )


if __name__ == "__main__":
    main()
