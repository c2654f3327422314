"""How well do inherited-weight chip costs predict the costs of the retrained networks?

The chip search costs every candidate with the super-network's weights (activity measured on
the search's D_val); a user deploys the architecture trained from scratch. This script samples
N architectures of a super-network (seeded, only ones that map onto the chip), costs each the
search's way, retrains each briefly from scratch, measures it on the same D_val images, costs
it with the same adapter (:class:`autosnn.app.chipcost.ChipCost`, same placement), and prints
Spearman's rho between the two energy orderings and the two latency orderings, with the
per-architecture table. The last line is the figure.

    nice -n 10 .venv/bin/python bench/retrain_cost_rank.py            # runs/demo/supernet.pt
    .venv/bin/python bench/retrain_cost_rank.py --archs 10 --train-images 5000 --epochs 1

Retraining: the super-network's data spec (its seed, its D_train / D_val split), the first
``--train-images`` images of D_train, ``--epochs`` epochs of the quick preset's retraining
(batch 32, no crop padding, no cutout), fp32, one seed for every architecture.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

# bench/hwsim.py is named like the package that autosnn.app imports: keep this script's folder
# off the path so `import hwsim` finds the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import torch  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

import autosnn  # noqa: E402
from autosnn.app.chipcost import ChipCost, ChipTarget  # noqa: E402
from autosnn.app.deployed import measure  # noqa: E402
from autosnn.app.pipeline import load_supernet  # noqa: E402
from autosnn.core.config import get_preset  # noqa: E402
from autosnn.core.spaces import get_space  # noqa: E402
from autosnn.data.spec import DataSpec, load_data  # noqa: E402
from autosnn.search.evaluate import eval_batches  # noqa: E402
from autosnn.search.shared_eval import SharedPrefixEvaluator  # noqa: E402
from autosnn.train.fit import fit  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--supernet", type=Path, default=Path("runs/demo/supernet.pt"))
    ap.add_argument("--chip", default="loihi2")
    ap.add_argument("--archs", type=int, default=10)
    ap.add_argument("--train-images", type=int, default=5000)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--val-images", type=int, default=None,
                    help="measure both costs on the first N D_val images (default: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args()
    if not args.supernet.is_file():
        sys.exit(f"{args.supernet}: no such super-network (run `make demo` or give --supernet)")
    torch.set_num_threads(max(1, torch.get_num_threads()))
    supernet, extra = load_supernet(args.supernet)
    c = supernet.config
    spec = DataSpec.from_dict(extra["data"], where=str(args.supernet), field="extra.data")
    spec = replace(spec, data_dir=args.data_dir or spec.data_dir,
                   train_limit=max(args.train_images, spec.train_limit or 0))
    splits = load_data(spec)
    train = splits.train
    train = type(train)(train.inputs[: args.train_images], train.labels[: args.train_images],
                        info=train.info)
    space = get_space(c.name)
    model = ChipCost(ChipTarget(args.chip), space=space, channels=c.channels,
                     num_classes=c.num_classes, input_shape=tuple(c.input_shape),
                     timesteps=c.timesteps)
    rng = random.Random(args.seed)
    archs: list[tuple[str, ...]] = []
    while len(archs) < args.archs:
        g = space.sample(rng)
        if g not in archs and model.admissible(g):
            archs.append(g)
    d_val = splits.val
    if args.val_images is not None:
        d_val = type(d_val)(d_val.inputs[: args.val_images], d_val.labels[: args.val_images],
                            info=d_val.info)
    val = eval_batches(d_val, 256, "cpu")
    inherited = SharedPrefixEvaluator(supernet.eval(), val)(archs)
    cfg = replace(get_preset("quick").retrain, epochs=args.epochs, seed=args.seed,
                  precision="fp32", device="cpu")
    print(f"{c.name} C={c.channels} T={c.timesteps} on {extra.get('dataset')}; chip "
          f"{args.chip}; {len(archs)} architectures; retrain {len(train)} D_train images x "
          f"{args.epochs} epoch(s), quick preset (batch {cfg.batch_size}); D_val "
          f"{len(d_val)} images; {torch.get_num_threads()} threads")
    print(f"{'genotype':<36} {'inh uJ':>8} {'ret uJ':>8} {'inh ms':>8} {'ret ms':>8} "
          f"{'inh spk':>8} {'ret spk':>8} {'ret acc':>7} {'s':>5}")
    rows = []
    for g, e in zip(archs, inherited, strict=True):
        start = time.perf_counter()
        torch.manual_seed(args.seed)
        net = autosnn.build(c.name, ",".join(g), c.channels, c.num_classes,
                            tuple(c.input_shape), c.timesteps)
        with tempfile.TemporaryDirectory() as tmp:
            fit(net, train, cfg, state_path=Path(tmp) / "state.pt", resume=False)
        m = measure(net, g, d_val, batch_size=256, precision="fp32").evaluation
        a, b = model.record(e), model.record(m)
        secs = time.perf_counter() - start
        rows.append((a.energy_total_j, b.energy_total_j, a.time_per_timestep_s,
                     b.time_per_timestep_s))
        print(f"{','.join(g):<36} {1e6 * a.energy_total_j:8.2f} {1e6 * b.energy_total_j:8.2f} "
              f"{1e3 * a.time_per_timestep_s:8.4f} {1e3 * b.time_per_timestep_s:8.4f} "
              f"{e.spikes:8.0f} {m.spikes:8.0f} {100 * m.accuracy:6.2f}% {secs:5.0f}",
              flush=True)
    ie, re_, il, rl = (list(col) for col in zip(*rows, strict=True))
    rho_e = spearmanr(ie, re_).statistic
    rho_l = spearmanr(il, rl).statistic
    ratio = sum(r / i for i, r in zip(ie, re_, strict=True)) / len(ie)
    print(f"Spearman rho inherited vs retrained ({len(rows)} architectures): energy "
          f"{rho_e:.3f}, latency {rho_l:.3f}; retrained / inherited energy {ratio:.2f}x (mean)")


if __name__ == "__main__":
    main()
