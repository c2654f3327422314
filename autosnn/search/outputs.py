"""Files a search writes: ``search.json``, ``winner-<lambda>.json`` / ``.pt``, ``pareto.png``.

``search.json`` holds only what the search decided (no timings), so an interrupted and resumed
run writes exactly the same file as an uninterrupted one; timings go to ``search-timing.json``.
"""

from __future__ import annotations

from pathlib import Path

import autosnn
from autosnn.core.network import SpikingNet
from autosnn.core.neuron import DEFAULT_NEURON
from autosnn.core.spaces import Genotype, genotype_text
from safeio import atomic_save


def extract_winner(supernet: SpikingNet, genotype: Genotype, *, neuron: str = DEFAULT_NEURON) -> SpikingNet:
    """Build ``genotype`` as a stand-alone network with the super-network's weights for its path.

    ``neuron`` may differ from the super-network's (ANN variant -> PLIF winner): parameters the
    super-network lacks (the PLIF ``w``) keep their initial value.
    """
    cfg = supernet.config
    net = autosnn.build(cfg.name, genotype, cfg.channels, cfg.num_classes, cfg.input_shape,
                        cfg.timesteps, neuron=neuron)
    source = supernet.state_dict()
    target = net.state_dict()
    shared = {k: v for k, v in source.items() if k in target and v.shape == target[k].shape}
    if neuron == cfg.neuron:
        missing = sorted(set(target) - set(shared))
        if missing:
            raise RuntimeError(f"super-network lacks weights for {missing[:3]}...")
    net.load_state_dict(shared, strict=False)
    return net.eval()


def plot_pareto(entries: list[dict], winners: dict[str, dict], path: Path, title: str, *,
                x_key: str = "spikes", x_label: str = "spikes per image (D_val)",
                highlight: str | None = None) -> None:
    """Accuracy vs cost (spikes, or a chip metric) of every evaluated candidate; infeasible ones
    (``feasible`` False) marked apart, winners marked per lambda, the chosen one highlighted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [e for e in entries if e.get("feasible", True) and e.get(x_key) is not None]
    bad = [e for e in entries if not e.get("feasible", True)]
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    ax.scatter([e[x_key] for e in ok], [100 * e["accuracy"] for e in ok],
               s=12, alpha=0.5, color="tab:gray", label="evaluated candidates")
    if bad:  # no finite cost: drawn at the right edge
        edge = max((e[x_key] for e in ok), default=1.0)
        ax.scatter([edge * 1.05] * len(bad), [100 * e["accuracy"] for e in bad], s=14,
                   marker="x", color="tab:red", label="infeasible (does not fit / over budget)")
    front = pareto_front([{"spikes": e[x_key], "accuracy": e["accuracy"]} for e in ok])
    ax.step([e["spikes"] for e in front], [100 * e["accuracy"] for e in front], where="post",
            color="tab:blue", lw=1, alpha=0.7, label="Pareto front")
    markers = "*^sDvP"
    for i, (key, w) in enumerate(winners.items()):
        x = w[x_key] if x_key in w else (w.get("chip") or {}).get("cost")
        x = x if x is not None else _chip_x(w, x_key, entries)
        if x is None:
            continue
        chosen = key == highlight
        ax.scatter([x], [100 * w["accuracy"]], s=260 if chosen else 140,
                   marker=markers[i % len(markers)], edgecolor="red" if chosen else "black",
                   linewidth=2 if chosen else 1, zorder=3,
                   label=f"winner lambda={key}" + (" (chosen)" if chosen else ""))
    ax.set_xlabel(x_label)
    ax.set_ylabel("accuracy on D_val (%)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    atomic_save(path, fig.savefig)
    plt.close(fig)


def _chip_x(w: dict, x_key: str, entries: list[dict]) -> float | None:
    """A winner's x from its entry (chip searches keep the cost per entry)."""
    for e in entries:
        if e["genotype"] == w["genotype"]:
            return e.get(x_key)
    return None


def pareto_front(entries: list[dict]) -> list[dict]:
    """Non-dominated entries (fewer spikes, higher accuracy), sorted by spikes."""
    front: list[dict] = []
    for e in sorted(entries, key=lambda e: (e["spikes"], -e["accuracy"])):
        if not front or e["accuracy"] > front[-1]["accuracy"]:
            front.append(e)
    return front


def entry(genotype: Genotype, accuracy: float, spikes: float) -> dict:
    """One evaluated architecture in ``search.json`` (rounds and fitness are added per lambda)."""
    return {"genotype": genotype_text(genotype), "accuracy": accuracy, "spikes": spikes}
