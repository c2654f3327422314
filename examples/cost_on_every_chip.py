"""Cost one NIR file on every chip profile (hwsim), side by side.

    python examples/cost_on_every_chip.py net.nir      # a file from `autosnn export`
    python examples/cost_on_every_chip.py --tiny       # exports a small snn1 network first
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import hwsim


def main(argv: list[str] | None = None) -> dict[str, hwsim.CostRecord]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("nir", nargs="?", type=Path)
    ap.add_argument("--tiny", action="store_true", help="cost a freshly built snn1 C=4 network")
    args = ap.parse_args(argv)
    path = args.nir
    if path is None:
        import autosnn
        from exporters import export

        path = Path(tempfile.mkdtemp()) / "net.nir"
        net = autosnn.build("snn1", "autosnn-lam0.08", channels=4 if args.tiny else 16,
                            input_shape=(1, 32, 32), timesteps=4)
        export(net, "nir", path)
    network = hwsim.read_network(path)
    records = {}
    print(f"{'chip':<22} {'fits':<5} {'cores':>6} {'time/step (s)':>14} {'energy/inf (J)':>15}")
    for chip in hwsim.list_chips():
        rec = hwsim.estimate(network, None, chip)  # no activity file: the stated 0.1 rate
        records[chip] = rec
        print(f"{chip:<22} {'yes' if rec.feasible else 'no':<5} {rec.cores_used:>6} "
              f"{rec.time_per_timestep_s or float('nan'):>14.3g} "
              f"{rec.energy_total_j or float('nan'):>15.3g}"
              + ("" if rec.feasible else f"  ({rec.reasons[0]})"))
    return records


if __name__ == "__main__":
    main()
