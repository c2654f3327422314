"""One training step (forward + backward + Adam) of our default path vs the per-timestep loop.

The network is snn1 ``SRB_k5,SRB_k5,skip,SRB_k3,SRB_k5`` (C=16, T=8, 32x32, batch 96). The
baseline is the same network with the same weights run the way reference SNN code runs it: every
layer called once per timestep, spikingjelly's single-step PLIF, fp32, default memory layout
(:mod:`autosnn.reference`). Repetitions are interleaved and medians reported, because this machine
is noisy. The glibc allocator tuning is process-wide, so it helps the baseline too: the ratio is
conservative.

Usage: python bench/forward.py [--reps 5] [--batch 96] [--precision auto]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

import autosnn
from autosnn.reference import forward_per_timestep, per_timestep_copy
from autosnn.runtime import ExecConfig, configure, prepare_input, prepare_model, seed_everything

GENOTYPE = "SRB_k5,SRB_k5,skip,SRB_k3,SRB_k5"


def make_step(model, forward, cfg: ExecConfig | None, x, y):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    target = F.one_hot(y, 10).float()

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        if cfg is None:
            out = forward(x)
        else:
            with cfg.autocast():
                out = forward(x)
        loss = F.mse_loss(out.float(), target)
        loss.backward()
        opt.step()
        return float(loss.detach())

    return step


def timed(step) -> float:
    t0 = time.perf_counter()
    step()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--batch", type=int, default=96)
    ap.add_argument("--timesteps", type=int, default=8)
    ap.add_argument("--channels", type=int, default=16)
    ap.add_argument("--precision", default="fp32", help="fp32 (default path), bf16 or auto")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    seed_everything(args.seed)

    base_model = autosnn.build("snn1", GENOTYPE, args.channels, 10, (3, 32, 32), args.timesteps)
    x = torch.randn(args.batch, 3, 32, 32)
    y = torch.randint(0, 10, (args.batch,))

    ref = per_timestep_copy(base_model).train()
    steps = {"baseline per-timestep fp32": make_step(
        ref, lambda inp: forward_per_timestep(ref, inp), None, x, y)}

    t0 = time.perf_counter()
    cfg = configure("cpu", args.precision, compile_neurons=True, channels_last=True)
    paths = [("default", cfg)]
    if cfg.precision != "fp32":
        paths.append(("fp32", ExecConfig(cfg.device, "fp32", True, cfg.compiled_neurons)))
    for label, c in paths:
        m = prepare_model(autosnn.build("snn1", GENOTYPE, args.channels, 10, (3, 32, 32),
                                        args.timesteps), c)
        m.load_state_dict(base_model.state_dict())
        m.train()
        xin = prepare_input(x, c)
        steps[f"ours {label} [{c.describe()}]"] = make_step(m, m, c, xin, y)
    # Warm-up: compiles the neuron kernels once (dynamic shapes) and faults memory in.
    for step in steps.values():
        step()
    print(f"warm-up incl. neuron kernel compilation: {time.perf_counter() - t0:.1f} s")

    times: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(args.reps):
        for k, step in steps.items():
            times[k].append(timed(step))
    med = {k: statistics.median(v) for k, v in times.items()}
    ips = {k: args.batch / v for k, v in med.items()}
    base_key = next(iter(steps))
    for k in steps:
        print(f"{k:55s} median {med[k] * 1000:8.1f} ms/step  {ips[k]:7.1f} img/s  "
              f"{med[base_key] / med[k]:.2f}x")
    keys = list(steps)
    default_key = keys[1]
    fp32_key = keys[2] if len(keys) > 2 else keys[1]
    print(f"fp32 path speedup {med[base_key] / med[fp32_key]:.2f}x")
    print(f"speedup {med[base_key] / med[default_key]:.2f}x (ours {ips[default_key]:.1f} img/s "
          f"[{cfg.describe()}], baseline {ips[base_key]:.1f} img/s)")


if __name__ == "__main__":
    main()
