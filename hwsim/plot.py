"""Mesh picture: link loads as a heatmap, each layer's routers outlined in its own colour."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from hwsim.estimate import CostRecord  # noqa: E402
from hwsim.mesh import Mesh  # noqa: E402


def plot_mesh(record: CostRecord, path: str | Path) -> None:
    """Write a PNG of the mesh: links coloured by spikes per timestep, layers outlined."""
    if record.link_load_per_step is None:
        raise ValueError("nothing to plot: the network does not fit the chip")
    rows, cols = record.mesh
    mesh = Mesh(rows, cols)
    src, dst = mesh.link_ends()
    sy, sx = np.divmod(src, cols)
    dy, dx = np.divmod(dst, cols)
    # offset the two directions of a link sideways so both stay visible
    off = 0.08 * np.stack([-(dy - sy), dx - sx], axis=1)
    segs = np.stack(
        [
            np.stack([sx + off[:, 1], sy + off[:, 0]], 1),
            np.stack([dx + off[:, 1], dy + off[:, 0]], 1),
        ],
        axis=1,
    )
    size = max(4.0, min(14.0, 0.6 * max(rows, cols)))
    fig, ax = plt.subplots(
        figsize=(size * cols / max(rows, cols) + 2, size * rows / max(rows, cols))
    )
    load = record.link_load_per_step
    lines = LineCollection(segs, array=load, cmap="inferno_r", linewidths=3)
    ax.add_collection(lines)
    fig.colorbar(lines, ax=ax, label="spikes per timestep on link")
    ax.scatter(*np.meshgrid(np.arange(cols), np.arange(rows)), s=12, c="grey", zorder=3)
    colours = plt.get_cmap("tab20")
    cpr = record.cores_per_router
    for i, (name, cores) in enumerate(record.core_of_layer.items()):
        pad = 0.18 + 0.04 * (i % 5)
        for r in np.unique(cores // cpr):
            y, x = divmod(int(r), cols)
            ax.add_patch(
                Rectangle(
                    (x - pad, y - pad),
                    2 * pad,
                    2 * pad,
                    fill=False,
                    edgecolor=colours(i % 20),
                    linewidth=1.2,
                    label=name if r == cores[0] // cpr else None,
                )
            )
    ax.set_xlim(-0.7, cols - 0.3)
    ax.set_ylim(rows - 0.3, -0.7)
    ax.set_aspect("equal")
    ax.set_title(
        f"{record.chip} ({record.placement}): max utilisation {record.max_link_utilisation:.3g}"
    )
    ax.legend(loc="upper left", bbox_to_anchor=(1.25, 1.0), fontsize=7, frameon=False)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
