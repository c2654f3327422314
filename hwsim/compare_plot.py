"""Bar chart of `hwsim compare`: time per timestep and energy per inference (dynamic and static
side by side) per chip, infeasible chips shown as an empty slot labelled with their binding rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from safeio import atomic_write  # noqa: E402


def plot_comparison(rows: list[dict[str, Any]], path: str | Path) -> None:
    """Two log-scale panels side by side: s/timestep and J/inference (dynamic + static)."""
    labels = [f"{r['chip']}\n({r['system']})" for r in rows]
    fig, (ax_t, ax_e) = plt.subplots(1, 2, figsize=(max(8, 2.2 * len(rows)), 4.5))
    x = range(len(rows))
    for i, r in enumerate(rows):
        if not r["feasible"]:
            for ax in (ax_t, ax_e):
                ax.text(
                    i,
                    0.5,
                    "does not fit",
                    rotation=90,
                    ha="center",
                    va="bottom",
                    transform=ax.get_xaxis_transform(),
                    fontsize=8,
                    color="firebrick",
                )
            continue
        ax_t.bar(i, r["time_per_timestep_s"], color="tab:blue")
        dyn, stat = r["energy_dynamic_j"] or 0.0, r["energy_static_j"] or 0.0
        ax_e.bar(i - 0.2, dyn, width=0.4, color="tab:orange")
        ax_e.bar(i + 0.2, stat, width=0.4, color="tab:grey")
    for ax, title in ((ax_t, "time per timestep (s)"), (ax_e, "energy per inference (J)")):
        ax.set_xticks(list(x), labels, fontsize=7)
        ax.set_xlim(-0.6, len(rows) - 0.4)
        ax.set_title(title, fontsize=9)
        if any(r["feasible"] for r in rows):
            ax.set_yscale("log")
    handles = [Patch(color="tab:orange"), Patch(color="tab:grey")]
    ax_e.legend(handles, ["dynamic", "static"], fontsize=7)
    fig.tight_layout()
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=120)
    plt.close(fig)
