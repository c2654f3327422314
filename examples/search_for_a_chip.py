"""Search a network for a chip and read the report: super-network -> chip-aware search.

    python examples/search_for_a_chip.py --chip loihi2 --out runs/example-chip
    python examples/search_for_a_chip.py --tiny          # synthetic data, seconds (for tests)

Without --tiny it trains on Fashion-MNIST (quick preset, a few minutes on a CPU).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from autosnn.app.pipeline import ModelSpec, SearchRequest, run_search, run_supernet
from autosnn.core.config import QUICK, SearchConfig, override
from autosnn.data.spec import DataSpec


def main(argv: list[str] | None = None) -> Path:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chip", default="loihi2")
    ap.add_argument("--out", type=Path, default=Path("runs/example-chip"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tiny", action="store_true", help="synthetic data, tiny network and search")
    args = ap.parse_args(argv)
    if args.tiny:
        data = DataSpec(dataset="synthetic", train_limit=48, val_limit=48, timesteps=2,
                        seed=args.seed)
        model = ModelSpec(channels=4)
        train = override(QUICK.supernet, epochs=1, batch_size=16, seed=args.seed)
        search = SearchConfig(rounds=2, pool_size=6, top_k=3, mutations=2, crossovers=2)
    else:
        data = DataSpec(train_limit=QUICK.train_limit, val_limit=QUICK.val_limit,
                        timesteps=QUICK.timesteps, seed=args.seed)
        model = ModelSpec(channels=QUICK.channels)
        train, search = override(QUICK.supernet, seed=args.seed), QUICK.search
    run_supernet(data=data, model=model, train=train, out=args.out)
    doc = run_search(supernet=args.out / "supernet.pt", out=args.out, request=SearchRequest(
        lambdas=QUICK.lambda_grid, lambda_auto=True, chip=args.chip, config=search,
        seed=args.seed))
    chosen = doc["chip"]["chosen"]
    print(f"lambda {chosen['key']} chosen: {chosen['reason']}")
    print((args.out / "report.md").read_text())
    return args.out / "report.md"


if __name__ == "__main__":
    main()
