"""One training step (forward + backward + Adam) of our default path vs the per-timestep loop
and vs spikingjelly's multi-step PLIF.

The network is snn1 ``SRB_k5,SRB_k5,skip,SRB_k3,SRB_k5`` (C=16, T=8, 32x32, batch 96). The
baseline is the same network with the same weights run the way reference SNN code runs it: every
layer called once per timestep, spikingjelly's single-step PLIF, fp32, default memory layout and
allocator (:mod:`bench.per_timestep`). Ours is the default training path set up by
:func:`autosnn.core.runtime.configure` (fused compiled neuron, channels_last, allocator tuning).
The second baseline (``sj-multistep``) is ours with every PLIF replaced by spikingjelly's
multi-step ``ParametricLIFNode`` (same maths; spikingjelly 2.0 dispatches it to its fastest
registered kernel for the device: its CUDA/Triton kernel on a GPU, its torch loop on a CPU) and
the same layout and precision, so the two differ only in the neuron kernel.

Each side runs in its own worker process, because the allocator tuning and the compiled kernels
are process-wide settings of our path; steps are interleaved (baseline, ours, baseline, ...) and
medians reported, because this machine is noisy.

After the timed steps, three more steps of ours are profiled (torch.profiler, self time) and the
share spent outside convolutions is printed, with what it is spent on (neuron, batch norm,
pooling, optimizer, the rest): the part of the step a faster convolution cannot remove.

Usage: python bench/forward.py [--reps 5] [--batch 96] [--precision fp32] [--device auto]
                               [--sides baseline,ours,sj-multistep]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

# ``python bench/forward.py`` puts bench/ on the path, not the repository root that ``bench.*``
# lives in; the spawned workers re-run this module's top level, so they get the root too.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GENOTYPE = "autosnn-lam0.08"  # AutoSNN (lambda = -0.08), the paper's searched snn1
SIDES = ("baseline", "ours", "sj-multistep")


def sj_multistep_copy(model):  # type: ignore[no-untyped-def]
    """A deep copy of ``model`` whose PLIFs are spikingjelly's multi-step ParametricLIFNode."""
    import copy

    from spikingjelly.activation_based import neuron, surrogate
    from torch import Tensor

    from autosnn.core.neuron import PLIF, SpikingLayer, current_timesteps

    class SJMultiStepPLIF(SpikingLayer):
        def __init__(self, plif: PLIF) -> None:
            super().__init__()
            self.node = neuron.ParametricLIFNode(
                init_tau=2.0, detach_reset=True, surrogate_function=surrogate.ATan(),
                step_mode="m",
            )
            self.node.w = plif.w

        def forward(self, x: Tensor) -> Tensor:  # (T*N, ...) -> (T*N, ...)
            T = current_timesteps()
            self.node.reset()
            out = self.node(x.float().reshape(T, x.shape[0] // T, *x.shape[1:]))
            out = out.reshape(x.shape)
            self._account(out)
            return out

    ref = copy.deepcopy(model)
    for module in list(ref.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, PLIF):
                setattr(module, name, SJMultiStepPLIF(child))
    return ref


def worker(conn: Connection, side: str, args: dict) -> None:
    """Build the network (same seed -> same weights on both sides), then time steps on request."""
    import torch
    import torch.nn.functional as F

    import autosnn
    from autosnn.core.runtime import configure, prepare_input, prepare_model, seed_everything
    from bench.op_shares import op_shares
    from bench.per_timestep import forward_per_timestep, per_timestep_copy

    seed_everything(args["seed"])
    model = autosnn.build("snn1", GENOTYPE, args["channels"], 10, (3, 32, 32), args["timesteps"])
    x = torch.randn(args["batch"], 3, 32, 32)
    target = F.one_hot(torch.randint(0, 10, (args["batch"],)), 10).float()
    t0 = time.perf_counter()
    if side == "baseline":
        cfg = configure(args["device"], "fp32", compile_neurons=False, channels_last=False)
        net = per_timestep_copy(model).to(cfg.device).train()
        x, target = x.to(cfg.device), target.to(cfg.device)
        label = f"baseline per-timestep [{cfg.device.type} fp32]"

        def forward():
            return forward_per_timestep(net, x)
    else:
        sj = side == "sj-multistep"
        cfg = configure(args["device"], args["precision"], compile_neurons=not sj,
                        channels_last=True)
        net = prepare_model(sj_multistep_copy(model) if sj else model, cfg).train()
        xin = prepare_input(x, cfg)
        target = target.to(cfg.device)
        label = (f"spikingjelly multi-step PLIF [{cfg.describe()}]" if sj
                 else f"ours default [{cfg.describe()}]")

        def forward():
            with cfg.autocast():
                return net(xin)

    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def sync() -> None:
        if cfg.device.type == "cuda":
            torch.cuda.synchronize(cfg.device)

    def step() -> float:
        sync()
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = F.mse_loss(forward().float(), target)
        loss.backward()
        opt.step()
        sync()
        return time.perf_counter() - start

    step()  # warm-up: compiles the neuron kernels once (dynamic shapes), faults memory in
    step()
    conn.send((label, time.perf_counter() - t0))
    while (request := conn.recv()) in ("step", "profile"):
        conn.send(step() if request == "step" else op_shares(step, cfg.device.type))


def main() -> None:
    from bench.op_shares import shares_line

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--batch", type=int, default=96)
    ap.add_argument("--timesteps", type=int, default=8)
    ap.add_argument("--channels", type=int, default=16)
    ap.add_argument("--precision", default="fp32", help="fp32 (default path), bf16 or auto")
    ap.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    ap.add_argument("--sides", default=",".join(SIDES),
                    help=f"comma-separated subset of {', '.join(SIDES)} (baseline and ours needed)")
    ap.add_argument("--seed", type=int, default=0)
    args = vars(ap.parse_args())
    chosen = [s.strip() for s in args["sides"].split(",") if s.strip()]
    if set(chosen) - set(SIDES) or not {"baseline", "ours"} <= set(chosen):
        ap.error(f"--sides {args['sides']!r}: expected baseline,ours[,sj-multistep]")

    ctx = mp.get_context("spawn")
    sides = {}
    for side in chosen:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=worker, args=(child, side, args), daemon=True)
        proc.start()
        sides[side] = (parent, proc)
    labels = {}
    for side, (conn, _) in sides.items():
        labels[side], warm = conn.recv()
        print(f"{labels[side]}: ready after {warm:.1f} s (build + warm-up incl. compilation)")

    times: dict[str, list[float]] = {s: [] for s in sides}
    for _ in range(args["reps"]):
        for side, (conn, _) in sides.items():
            time.sleep(0.5)  # let the other worker's OpenMP threads stop spin-waiting
            conn.send("step")
            times[side].append(conn.recv())
    sides["ours"][0].send("profile")
    shares = sides["ours"][0].recv()
    for conn, proc in sides.values():
        conn.send("stop")
        proc.join(timeout=30)

    med = {s: statistics.median(v) for s, v in times.items()}
    ips = {s: args["batch"] / v for s, v in med.items()}
    for s in sides:
        print(f"{labels[s]:55s} median {med[s] * 1000:8.1f} ms/step  {ips[s]:7.1f} img/s  "
              f"(reps {', '.join(f'{t * 1000:.0f}' for t in times[s])} ms)")
    print(shares_line("ours, training step", shares))
    ratio = med["baseline"] / med["ours"]
    print(f"speedup {ratio:.2f}x (ours {ips['ours']:.1f} img/s [{labels['ours'][14:-1]}], "
          f"baseline {ips['baseline']:.1f} img/s)")
    if "sj-multistep" in med:
        print(f"ours vs spikingjelly multi-step PLIF: {med['sj-multistep'] / med['ours']:.2f}x "
              f"(spikingjelly {ips['sj-multistep']:.1f} img/s)")


if __name__ == "__main__":
    main()
