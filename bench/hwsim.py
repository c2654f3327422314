"""Benchmark hwsim on snn1 (SRB_k5, SRB_k5, skip, SRB_k3, SRB_k5) at C=64 on loihi2.

Prints the median mapping+estimate time, then our vectorised per-link routing (finding each
neuron's target cores from the conv geometry, aggregating, XY-routing with bincount) against a
naive per-spike Python loop over the same target lists (both must give identical link loads);
the ratio is the last line: `speedup 12.3x (ours 0.05 s, naive 0.6 s)`. It also times one
estimate of snn1 C=16 with per-timestep activity (the search calls estimate once per candidate).

Run: .venv/bin/python bench/hwsim.py [--channels 64] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

# this file is named like the package: keep `import hwsim` from finding it instead
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import nir  # noqa: E402
import numpy as np  # noqa: E402

from hwsim import Activity, estimate, load_chip  # noqa: E402
from hwsim.estimate import _piece_traffic, build_trees, route_trees, spike_senders  # noqa: E402
from hwsim.mapping import partition  # noqa: E402
from hwsim.mesh import Mesh  # noqa: E402
from hwsim.network import network_from_nir  # noqa: E402
from hwsim.placement import place  # noqa: E402


def _lif(shape: tuple[int, ...]) -> nir.LIF:
    return nir.LIF(
        tau=np.full(shape, 2.0),
        r=np.ones(shape),
        v_leak=np.zeros(shape),
        v_threshold=np.ones(shape),
    )


def _conv(rng: np.random.Generator, cin: int, cout: int, k: int, hw: int) -> nir.Conv2d:
    w = rng.normal(0, 1 / np.sqrt(cin * k * k), (cout, cin, k, k))
    return nir.Conv2d(
        input_shape=(hw, hw),
        weight=w,
        stride=1,
        padding=k // 2,
        dilation=1,
        groups=1,
        bias=np.zeros(cout),
    )


def snn1_graph(c: int = 64, seed: int = 0) -> nir.NIRGraph:
    """snn1 shape: stem -> SRB_k5 -> pool -> SRB_k5 (C->2C) -> skip -> pool -> SRB_k3 (2C->4C)
    -> SRB_k5 -> pool -> flatten -> Linear(4C*16 -> 100) + LIF -> vote Linear(100 -> 10)."""
    rng = np.random.default_rng(seed)
    nodes: dict[str, nir.NIRNode] = {
        "input": nir.Input(input_type={"input": np.array([3, 32, 32])})
    }
    edges: list[tuple[str, str]] = []
    nodes["stem.conv"], nodes["stem.lif"] = _conv(rng, 3, c, 3, 32), _lif((c, 32, 32))
    edges += [("input", "stem.conv"), ("stem.conv", "stem.lif")]

    def srb(name: str, src: str, cin: int, cout: int, k: int, hw: int) -> str:
        nodes[f"{name}.conv1"], nodes[f"{name}.lif1"] = (
            _conv(rng, cin, cout, k, hw),
            _lif((cout, hw, hw)),
        )
        nodes[f"{name}.conv2"], nodes[f"{name}.lif2"] = (
            _conv(rng, cout, cout, k, hw),
            _lif((cout, hw, hw)),
        )
        edges.extend(
            [
                (src, f"{name}.conv1"),
                (f"{name}.conv1", f"{name}.lif1"),
                (f"{name}.lif1", f"{name}.conv2"),
                (f"{name}.conv2", f"{name}.lif2"),
            ]
        )
        if cin == cout:
            edges.append((src, f"{name}.lif2"))  # identity shortcut: a plain edge
        else:
            nodes[f"{name}.short"] = _conv(rng, cin, cout, 1, hw)
            edges.extend([(src, f"{name}.short"), (f"{name}.short", f"{name}.lif2")])
        return f"{name}.lif2"

    def pool(name: str, src: str, ch: int, hw: int) -> str:
        nodes[f"{name}.sum"] = nir.SumPool2d(
            kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])
        )
        nodes[f"{name}.spike"] = nir.Threshold(threshold=np.full((ch, hw // 2, hw // 2), 0.5))
        edges.extend([(src, f"{name}.sum"), (f"{name}.sum", f"{name}.spike")])
        return f"{name}.spike"

    x = srb("cells.0", "stem.lif", c, c, 5, 32)
    x = pool("pool1", x, c, 32)
    x = srb("cells.1", x, c, 2 * c, 5, 16)
    # cells.2 is `skip`: identity, no nodes
    x = pool("pool2", x, 2 * c, 16)
    x = srb("cells.3", x, 2 * c, 4 * c, 3, 8)
    x = srb("cells.4", x, 4 * c, 4 * c, 5, 8)
    x = pool("pool3", x, 4 * c, 8)
    nodes["flat"] = nir.Flatten(input_type={"input": np.array([4 * c, 4, 4])}, start_dim=0)
    nodes["fc"] = nir.Linear(weight=rng.normal(0, 0.05, (100, 4 * c * 16)))
    nodes["fc.lif"] = _lif((100,))
    vote = np.zeros((10, 100))
    vote[np.arange(100) // 10, np.arange(100)] = 1.0
    nodes["vote"] = nir.Linear(weight=vote)
    nodes["output"] = nir.Output(output_type={"output": np.array([10])})
    edges += [(x, "flat"), ("flat", "fc"), ("fc", "fc.lif"), ("fc.lif", "vote"), ("vote", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges)


def poisson_activity(
    graph: nir.NIRGraph, mean: float = 1.0, timesteps: int = 8, seed: int = 1
) -> Activity:
    """Per-neuron spike counts over T, Poisson with `mean` spikes per neuron per sample."""
    rng = np.random.default_rng(seed)
    net = network_from_nir(graph)
    counts = {
        la.name: rng.poisson(mean, la.size).astype(np.float64)
        for la in net.layers
        if la.kind != "output"
    }
    return Activity(counts, timesteps=timesteps, samples=1, source="poisson")


def poisson_steps(
    graph: nir.NIRGraph, mean: float = 1.0, timesteps: int = 8, seed: int = 1
) -> Activity:
    """Per-timestep counts [T, N]: Poisson with `mean / T` spikes per neuron per step."""
    rng = np.random.default_rng(seed)
    net = network_from_nir(graph)
    steps = {
        la.name: rng.poisson(mean / timesteps, (timesteps, la.size)).astype(np.float64)
        for la in net.layers
        if la.kind != "output"
    }
    return Activity(steps, timesteps=timesteps, samples=1, source="poisson per step")


def naive_link_loads(senders, core_of: np.ndarray, chip, mesh: Mesh) -> np.ndarray:
    """Per spike, per destination core, walk the XY route hop by hop (unicast, like loihi2)."""
    src_ids, dst_ids = mesh.link_ends()
    link_id = {(int(a), int(b)): i for i, (a, b) in enumerate(zip(src_ids, dst_ids, strict=True))}
    cpr, cols = chip.cores_per_router, chip.cols
    host = len(core_of)
    load = np.zeros(mesh.n_links)
    for s in senders:
        order = np.argsort(s.neuron, kind="stable")
        neuron, target = s.neuron[order], s.target[order]
        starts = np.searchsorted(neuron, np.arange(s.counts.size + 1))
        for i in range(s.counts.size):
            n_spikes = int(s.counts[i])
            sp = int(s.src_piece[i])
            own = -1 if sp == host else int(core_of[sp])
            src_router = 0 if sp == host else own // cpr
            for _ in range(n_spikes):
                for t in target[starts[i] : starts[i + 1]]:
                    core = -1 if t == host else int(core_of[t])
                    if core == own:
                        continue
                    router = 0 if t == host else core // cpr
                    r, c = divmod(src_router, cols)
                    r2, c2 = divmod(router, cols)
                    while c != c2:
                        step = 1 if c2 > c else -1
                        load[link_id[(r * cols + c, r * cols + c + step)]] += 1
                        c += step
                    while r != r2:
                        step = 1 if r2 > r else -1
                        load[link_id[(r * cols + c, (r + step) * cols + c)]] += 1
                        r += step
    return load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    chip = load_chip("loihi2")
    graph = snn1_graph(args.channels)
    act = poisson_activity(graph)
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        net = network_from_nir(graph)
        rec = estimate(net, act, chip, placement="greedy")
        times.append(time.perf_counter() - t0)
    print(
        f"snn1 C={args.channels} on {chip.name}: feasible={rec.feasible}, "
        f"cores {rec.cores_used}/{rec.cores_available}, spikes {rec.spikes:.0f}, "
        f"messages {rec.messages:.0f}, hops {rec.hops:.0f}, "
        f"max link utilisation {rec.max_link_utilisation:.3g}"
    )
    print(
        f"time per timestep {rec.time_per_timestep_s:.3g} s, energy per inference "
        f"{rec.energy_total_j:.3g} J (synops {rec.energy_synops_j:.3g}, neurons "
        f"{rec.energy_neurons_j:.3g}, routing {rec.energy_routing_j:.3g}, static "
        f"{rec.energy_static_j:.3g})"
    )
    print(f"mapping + estimate: median {statistics.median(times):.3f} s over {args.repeats} runs")

    # the search calls estimate once per candidate: snn1 C=16 with per-timestep activity
    g16 = snn1_graph(16)
    net16, act16 = network_from_nir(g16), poisson_steps(g16)
    t16 = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        estimate(net16, act16, chip, placement="greedy")
        t16.append(time.perf_counter() - t0)
    print(
        f"snn1 C=16, per-timestep activity (T=8): estimate median "
        f"{statistics.median(t16):.3f} s over {args.repeats} runs"
    )

    # same traffic, two routers: ours (vectorised trees + bincount) vs per-spike loop
    part = partition(net, chip)
    counts = {
        name: act.counts_for(name, net.layer(name).size)[0]
        for name in (la.name for la in net.layers if la.kind != "output")
    }
    senders = spike_senders(net, part, counts)
    core_of = place(part, _piece_traffic(senders, len(part.pieces)), chip, "greedy")
    mesh = Mesh(chip.rows, chip.cols)
    ours = []
    for _ in range(args.repeats):  # ours includes finding each neuron's target cores
        t0 = time.perf_counter()
        routed_senders = spike_senders(net, part, counts)
        loads = route_trees(build_trees(routed_senders, core_of, chip), mesh).link_load
        ours.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    naive = naive_link_loads(senders, core_of, chip, mesh)
    t_naive = time.perf_counter() - t0
    if not np.allclose(loads, naive):
        raise SystemExit("link loads differ between vectorised and naive routing")
    t_ours = statistics.median(ours)
    print(f"speedup {t_naive / t_ours:.1f}x (ours {t_ours:.3g} s, naive {t_naive:.3g} s)")


if __name__ == "__main__":
    main()
