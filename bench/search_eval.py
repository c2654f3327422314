"""Benchmark: evaluating N candidates of a trained super-network on D_val.

ours  = SharedPrefixEvaluator (stem once per batch, shared prefixes, lexicographic order)
naive = every candidate run from scratch over D_val (full forward of its path per batch)

Both run at the same precision on the same batches; the script checks that accuracies and spike
counts are identical and prints ``speedup Nx`` last.

    .venv/bin/python bench/search_eval.py       # a tiny synthetic super-network, cached
    .venv/bin/python bench/search_eval.py --supernet runs/fm-quick/supernet.pt
    .venv/bin/python bench/search_eval.py --supernet runs/fm-quick/supernet.pt \
        --from-search runs/fm-quick/search.json      # the candidates a search evaluated
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

# bench/hwsim.py is named like the package that autosnn.app imports: keep this script's folder
# off the path so `import hwsim` finds the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the root, for bench.op_shares

import torch  # noqa: E402

from autosnn.app.pipeline import load_supernet  # noqa: E402
from autosnn.core.neuron import set_compiled  # noqa: E402
from autosnn.core.runtime import compile_default  # noqa: E402
from autosnn.data.spec import DataSpec, load_data  # noqa: E402
from autosnn.search.evaluate import NaiveEvaluator, eval_batches  # noqa: E402
from autosnn.search.fitness import power_fitness  # noqa: E402
from autosnn.search.shared_eval import SharedPrefixEvaluator  # noqa: E402


def spearman(a: list[float], b: list[float]) -> float:
    """Spearman rank correlation (average ranks for ties)."""

    def ranks(x: list[float]) -> list[float]:
        order = sorted(range(len(x)), key=lambda i: x[i])
        r = [0.0] * len(x)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and x[order[j + 1]] == x[order[i]]:
                j += 1
            for k in range(i, j + 1):
                r[order[k]] = (i + j) / 2
            i = j + 1
        return r

    ra, rb = ranks(a), ranks(b)
    ma, mb = sum(ra) / len(ra), sum(rb) / len(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb, strict=True))
    va = sum((x - ma) ** 2 for x in ra) ** 0.5
    vb = sum((y - mb) ** 2 for y in rb) ** 0.5
    return cov / (va * vb) if va and vb else 1.0


# Without --supernet: a tiny super-network on the built-in synthetic data (no files needed),
# trained once into this cache (gitignored) and reused while its settings are unchanged.
CACHE = Path("runs/bench-cache/search_eval")
TINY = {"dataset": "synthetic", "space": "snn1", "channels": 8, "timesteps": 4, "epochs": 1,
        "train_limit": 256, "val_limit": 200, "batch_size": 32, "seed": 0}


def tiny_supernet(cache: Path = CACHE) -> Path:
    """``cache/supernet.pt``, trained from :data:`TINY` unless a run with the same settings
    already left it there (one writer at a time: the folder is locked while training)."""
    from autosnn.app.pipeline import ModelSpec, run_supernet
    from autosnn.core.config import TrainConfig
    from safeio import out_lock, write_json

    path, record = cache / "supernet.pt", cache / "bench-settings.json"
    with out_lock(cache, "bench/search_eval.py"):
        if path.is_file() and record.is_file() and json.loads(record.read_text()) == TINY:
            return path
        print(f"training a tiny super-network into {cache} (once; {TINY})", flush=True)
        run_supernet(
            data=DataSpec(dataset=TINY["dataset"], seed=TINY["seed"],
                          train_limit=TINY["train_limit"], val_limit=TINY["val_limit"],
                          test_limit=TINY["val_limit"], timesteps=TINY["timesteps"]),
            model=ModelSpec(space=TINY["space"], channels=TINY["channels"]),
            train=TrainConfig(epochs=TINY["epochs"], batch_size=TINY["batch_size"],
                              seed=TINY["seed"], device="cpu"),
            out=cache,
        )
        write_json(record, TINY)
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--supernet", type=Path,
                    help=f"super-network checkpoint (default: a tiny one cached in {CACHE})")
    ap.add_argument("--candidates", type=int, default=200)
    ap.add_argument("--from-search", type=Path, help="take the candidates from a search.json")
    ap.add_argument("--val-limit", type=int, help="D_val samples (default: the super-network's)")
    ap.add_argument("--batch-size", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--compare-bf16", action="store_true",
                    help="also run ours in bf16 and report its differences from fp32")
    ap.add_argument("--eager", action="store_true",
                    help="run the neuron's eager loop (the search compiles it, as ours does here)")
    ap.add_argument("--threads", type=int, help="torch.set_num_threads")
    ap.add_argument("--repeats", type=int, default=3,
                    help="timed runs of each evaluator, interleaved; medians are reported")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    # the neuron loop as the search runs it (compiled unless AUTOSNN_COMPILE=0), or eager
    compiled = set_compiled(not args.eager and compile_default())

    if args.supernet is None:
        args.supernet = tiny_supernet()
    net, extra = load_supernet(args.supernet)
    data = DataSpec.from_dict(extra["data"])
    if args.val_limit is not None:
        data = DataSpec(**{**data.to_dict(), "val_limit": args.val_limit})
    val = load_data(data).val
    batches = eval_batches(val, args.batch_size, "cpu")
    space = net.search_space()
    if args.from_search:
        doc = json.loads(args.from_search.read_text())
        genos = [tuple(e["genotype"].split(",")) for e in doc["candidates_evaluated"]]
        genos = genos[: args.candidates]
        source = f"the first {len(genos)} candidates of {args.from_search}"
    else:
        rng = random.Random(args.seed)
        seen: set = set()
        genos = []
        while len(genos) < min(args.candidates, space.size):
            g = space.sample(rng)
            if g not in seen:
                seen.add(g)
                genos.append(g)
        source = f"{len(genos)} random unique architectures (seed {args.seed})"
    print(f"super-network {args.supernet} ({net.config.name} C={net.config.channels} "
          f"T={net.config.timesteps}); {source}; D_val {len(val)} samples in batches of "
          f"{args.batch_size}; precision {args.precision}; threads {torch.get_num_threads()}; "
          f"neuron loop {'compiled' if compiled else 'eager'}")

    times: dict[str, list[float]] = {"ours": [], "naive": []}
    for _ in range(max(1, args.repeats)):  # interleaved, so drifting machine load hits both
        shared = SharedPrefixEvaluator(net, batches, args.precision)
        t0 = time.perf_counter()
        ours = shared(genos)
        times["ours"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        naive = NaiveEvaluator(net, batches, args.precision)(genos)
        times["naive"].append(time.perf_counter() - t0)
    t_ours, t_naive = statistics.median(times["ours"]), statistics.median(times["naive"])
    print(f"ours : {t_ours:8.1f} s median of {len(times['ours'])} "
          f"({len(genos) * len(val) / t_ours:,.0f} candidate-images/s; "
          f"{shared.stats['computed']} of {shared.stats['naive']} slot-segments computed)")
    print(f"naive: {t_naive:8.1f} s median of {len(times['naive'])} "
          f"({len(genos) * len(val) / t_naive:,.0f} candidate-images/s)")

    acc_diff = sum(a.accuracy != b.accuracy for a, b in zip(ours, naive, strict=True))
    spk_diff = sum(a.spikes != b.spikes for a, b in zip(ours, naive, strict=True))
    print(f"identical to naive: accuracy {len(genos) - acc_diff}/{len(genos)}, "
          f"spike counts {len(genos) - spk_diff}/{len(genos)}")

    if args.compare_bf16 and args.precision == "fp32":
        t0 = time.perf_counter()
        low = SharedPrefixEvaluator(net, batches, "bf16")(genos)
        t_low = time.perf_counter() - t0
        fit = power_fitness(-0.24, float(extra["spikes_avg"]))
        dacc = max(abs(a.accuracy - b.accuracy) for a, b in zip(ours, low, strict=True))
        dspk = max(abs(a.spikes - b.spikes) / a.spikes for a, b in zip(ours, low, strict=True))
        rho = spearman([fit(e) for e in ours], [fit(e) for e in low])
        print(f"bf16 : {t_low:8.1f} s; max |acc diff| {100 * dacc:.2f} pp, max spike diff "
              f"{100 * dspk:.2f}%, Spearman rho of fitness (lambda -0.24) {rho:.4f}")

    from bench.op_shares import op_shares, shares_line

    sample = genos[: min(len(genos), 20)]
    print(shares_line(f"ours, evaluating {len(sample)} candidates", op_shares(
        lambda: SharedPrefixEvaluator(net, batches, args.precision)(sample), "cpu", repeats=1)))
    if acc_diff or spk_diff:
        print("MISMATCH between ours and naive", file=sys.stderr)
    print(f"speedup {t_naive / t_ours:.1f}x (ours {t_ours:.1f} s, baseline {t_naive:.1f} s; "
          f"medians of {len(times['ours'])})")
    return 1 if (acc_diff or spk_diff) else 0


if __name__ == "__main__":
    raise SystemExit(main())
