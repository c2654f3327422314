"""Files a search writes: ``search.json``, ``winner-<lambda>.json`` / ``.pt``, ``pareto.png``.

``search.json`` holds only what the search decided (no timings), so an interrupted and resumed
run writes exactly the same file as an uninterrupted one; timings go to ``search-timing.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import autosnn
from autosnn.core.network import SpikingNet
from autosnn.core.spaces import Genotype, genotype_text


def write_json(path: Path, obj: object) -> None:
    """Write JSON atomically (temp file + rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    tmp.replace(path)


def extract_winner(supernet: SpikingNet, genotype: Genotype, *, neuron: str = "plif") -> SpikingNet:
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


def plot_pareto(entries: list[dict], winners: dict[str, dict], path: Path, title: str) -> None:
    """Accuracy vs spikes per image of every evaluated candidate; winners marked per lambda."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    ax.scatter([e["spikes"] for e in entries], [100 * e["accuracy"] for e in entries],
               s=12, alpha=0.5, color="tab:gray", label="evaluated candidates")
    front = pareto_front(entries)
    ax.step([e["spikes"] for e in front], [100 * e["accuracy"] for e in front], where="post",
            color="tab:blue", lw=1, alpha=0.7, label="Pareto front")
    markers = "*^sDvP"
    for i, (key, w) in enumerate(winners.items()):
        ax.scatter([w["spikes"]], [100 * w["accuracy"]], s=140, marker=markers[i % len(markers)],
                   edgecolor="black", zorder=3, label=f"winner lambda={key}")
    ax.set_xlabel("spikes per image (D_val)")
    ax.set_ylabel("accuracy on D_val (%)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)


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
