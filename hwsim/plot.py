"""Mesh pictures: every directed link coloured by its load (the two directions side by side,
idle links faint), each router labelled with the layers on its cores, the host port marked,
chip-to-chip links dashed; a board also gets one picture per chip in use."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.colors import Normalize  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from hwsim.estimate import CostRecord  # noqa: E402
from hwsim.mesh import Mesh  # noqa: E402
from safeio import atomic_write, check_outputs  # noqa: E402

Window = tuple[int, int, int, int]  # router rows [r0, r1) x cols [c0, c1) of the system mesh


def _draw(record: CostRecord, path: Path, window: Window, title: str) -> None:
    """Draw the routers of `window` and the links between them to `path`."""
    assert record.link_load_per_step is not None
    r0, r1, c0, c1 = window
    h, w = r1 - r0, c1 - c0
    size = max(4.0, min(16.0, 0.7 * max(h, w)))
    fig, ax = plt.subplots(figsize=(size * w / max(h, w) + 3, size * h / max(h, w) + 0.5))
    _draw_links(fig, ax, record, window)
    gy, gx = np.meshgrid(np.arange(r0, r1), np.arange(c0, c1), indexing="ij")
    ax.scatter(gx.ravel(), gy.ravel(), s=10, c="grey", zorder=3)
    _label_routers(ax, record, window)
    ax.set_xlim(c0 - 0.7, c1 - 0.3)
    ax.set_ylim(r1 - 0.3, r0 - 0.7)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=9)
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)


def _link_segments(record: CostRecord, window: Window) -> tuple[np.ndarray, np.ndarray]:
    """(segments (L, 2, 2), inside (L,)): each directed link as a short arrow-less segment
    offset to its side (east and west links of a pair side by side), and whether both its
    ends are in the window."""
    r0, r1, c0, c1 = window
    rows, cols = record.mesh
    src, dst = Mesh(rows, cols).link_ends()
    sy, sx = np.divmod(src, cols)
    dy, dx = np.divmod(dst, cols)
    inside = (sy >= r0) & (sy < r1) & (sx >= c0) & (sx < c1)
    inside &= (dy >= r0) & (dy < r1) & (dx >= c0) & (dx < c1)
    off_x, off_y = -(dy - sy) * 0.07, (dx - sx) * 0.07
    shrink = 0.15
    ax0 = sx + (dx - sx) * shrink + off_x
    ay0 = sy + (dy - sy) * shrink + off_y
    ax1 = dx - (dx - sx) * shrink + off_x
    ay1 = dy - (dy - sy) * shrink + off_y
    return np.stack([np.stack([ax0, ay0], 1), np.stack([ax1, ay1], 1)], 1), inside


def _draw_links(fig: Figure, ax: Axes, record: CostRecord, window: Window) -> None:
    """Idle links faint, busy ones coloured by load, chip-to-chip links dashed."""
    assert record.link_load_per_step is not None
    segs, inside = _link_segments(record, window)
    load = record.link_load_per_step
    inter = (
        record.link_interchip
        if record.link_interchip is not None
        else np.zeros(load.size, dtype=bool)
    )
    idle = inside & (load <= 0)
    ax.add_collection(
        LineCollection(
            # matplotlib iterates the (L, 2, 2) array line by line; its stub wants a Sequence
            segs[idle],  # type: ignore[arg-type]
            colors="lightgrey", linewidths=1, alpha=0.5, zorder=1,
        )
    )
    busy = inside & (load > 0)
    vmax = float(load[busy].max()) if busy.any() else 1.0
    norm = Normalize(0.0, vmax)
    for mask, style, width in ((busy & ~inter, "solid", 3.0), (busy & inter, "dashed", 3.5)):
        if mask.any():
            ax.add_collection(LineCollection(
                segs[mask], array=load[mask], cmap="inferno_r", norm=norm,
                linewidths=width, linestyles=style, zorder=2,
            ))
    sm = plt.cm.ScalarMappable(norm=norm, cmap="inferno_r")
    fig.colorbar(sm, ax=ax, label="messages per timestep on link (mean over T)", shrink=0.8)
    if inter[inside].any():
        ax.add_collection(LineCollection(
            segs[inside & inter & ~busy],
            colors="lightblue", linewidths=1.5, linestyles="dashed", zorder=1,
        ))


def _label_routers(ax: Axes, record: CostRecord, window: Window) -> None:
    """Each router labelled with the numbers of the layers on its cores (the legend names
    them), the host port starred, chip boundaries dotted."""
    r0, r1, c0, c1 = window
    rows, cols = record.mesh
    by_router: dict[int, list[int]] = {}
    names = list(record.core_of_layer)
    cpr, (crow, ccol) = record.cores_per_router, record.chip_mesh
    for i, cores in enumerate(record.core_of_layer.values()):
        for r in np.unique(_routers(cores, record)):
            by_router.setdefault(int(r), []).append(i)
    for r, idx in by_router.items():
        y, x = divmod(r, cols)
        if r0 <= y < r1 and c0 <= x < c1:
            label = ",".join(str(i) for i in idx[:3]) + ("+" if len(idx) > 3 else "")
            ax.text(x + 0.18, y - 0.22, label, fontsize=6, color="navy", zorder=4)
    if r0 == 0 and c0 == 0:
        ax.scatter([0], [0], marker="*", s=160, c="green", zorder=5, label="host / input port")
    for k in range(1, max(1, rows // crow)):  # chip boundaries
        ax.axhline(k * crow - 0.5, color="steelblue", lw=0.8, ls=":")
    for k in range(1, max(1, cols // ccol)):
        ax.axvline(k * ccol - 0.5, color="steelblue", lw=0.8, ls=":")
    handles = [plt.Line2D([], [], ls="", label=f"{i}: {n}") for i, n in enumerate(names)]
    star = plt.Line2D([], [], marker="*", color="green", ls="", label="host / input port")
    ax.legend(
        handles=[star, *handles],
        loc="upper left",
        bbox_to_anchor=(1.25, 1.0),
        fontsize=7,
        frameon=False,
        title=f"layers ({cpr} core(s)/router)",
    )


def _routers(cores: np.ndarray, record: CostRecord) -> np.ndarray:
    """System router of each core, from the record's mesh figures (chip by chip numbering)."""
    crow, ccol = record.chip_mesh
    rows, cols = record.mesh
    per_chip = record.cores_per_chip or crow * ccol * record.cores_per_router
    chip, local = np.divmod(np.asarray(cores), per_chip)
    r, c = np.divmod(local // record.cores_per_router, ccol)
    cr, cc = np.divmod(chip, max(1, cols // ccol))
    return (cr * crow + r) * cols + cc * ccol + c


def plot_mesh(
    record: CostRecord, path: str | Path, *, inputs: Iterable[str | Path | None] = ()
) -> list[Path]:
    """Write the mesh picture(s); returns the files written (a board adds one per used chip,
    `<stem>-chip<k><suffix>` beside `path`). Every file is checked against the output path
    policy and `inputs` (the command's input files) before the first is drawn."""
    if record.link_load_per_step is None:
        raise ValueError("nothing to plot: the network does not fit the chip")
    path = Path(path)
    rows, cols = record.mesh
    util = record.max_link_utilisation or 0.0
    what = record.board or record.chip
    title = (
        f"{what} ({record.placement}): {record.cores_used} cores on {record.chips_used} chip(s), "
        f"peak link utilisation {util:.3g}, {record.time_per_timestep_s:.3g} s/step"
    )
    pictures: list[tuple[Path, Window, str]] = [(path, (0, rows, 0, cols), title)]
    crow, ccol = record.chip_mesh
    if (crow, ccol) != (rows, cols):
        used = set()
        for cores in record.core_of_layer.values():
            routers = _routers(cores, record)
            used.update(((routers // cols) // crow * (cols // ccol) + (routers % cols) // ccol)
                        .tolist())
        for k in sorted(used):
            cr, cc = divmod(k, cols // ccol)
            out = path.with_name(f"{path.stem}-chip{k}{path.suffix}")
            window = (cr * crow, (cr + 1) * crow, cc * ccol, (cc + 1) * ccol)
            pictures.append((out, window, f"{what}: chip {k}"))
    check_outputs([p for p, _, _ in pictures], inputs=inputs)
    for out, window, text in pictures:
        _draw(record, out, window, text)
    return [p for p, _, _ in pictures]
