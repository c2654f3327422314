"""Placement: which core each piece of a partition goes to (sequential, greedy by traffic,
locality-refined, spread), and the traffic-weighted hop count it is judged by."""

from __future__ import annotations

import numpy as np

from hwsim.chip import ChipSpec
from hwsim.mapping import Partition

PLACEMENTS = ("sequential", "greedy", "locality", "spread")


def router_positions(chip: ChipSpec) -> tuple[np.ndarray, np.ndarray]:
    """(row, col) of every system router, router-major numbering."""
    idx = np.arange(chip.n_routers)
    return idx // chip.mesh_cols, idx % chip.mesh_cols


def weighted_hops(core_of_piece: np.ndarray, traffic: np.ndarray, chip: ChipSpec) -> float:
    """Sum of traffic x Manhattan distance; traffic is (P+1, P+1), index P the host (router 0)."""
    routers = np.append(chip.router_of_core(core_of_piece), 0)
    rows, cols = routers // chip.mesh_cols, routers % chip.mesh_cols
    dist = np.abs(rows[:, None] - rows[None, :]) + np.abs(cols[:, None] - cols[None, :])
    return float((traffic * dist).sum())


def place(part: Partition, traffic: np.ndarray, chip: ChipSpec, method: str) -> np.ndarray:
    """Core index per piece. `greedy` returns whichever of greedy/sequential has fewer
    traffic-weighted hops, so asking for the optimised placement never makes things worse;
    `locality` and `spread` refine that by pairwise swaps."""
    if method not in PLACEMENTS:
        raise ValueError(f"placement must be one of {PLACEMENTS}, got {method!r}")
    n = len(part.pieces)
    if part.fixed_cores is not None:
        return part.fixed_cores.copy()
    if n > chip.n_cores:
        raise ValueError(f"{n} pieces do not fit {chip.n_cores} cores")
    sequential = np.arange(n, dtype=np.int64)
    if method == "sequential" or n == 0:
        return sequential
    greedy = _greedy(traffic, chip, n)
    best = sequential
    if weighted_hops(greedy, traffic, chip) <= weighted_hops(sequential, traffic, chip):
        best = greedy
    if method in ("locality", "spread"):
        refined = _swap_refine(best, traffic, chip)
        if weighted_hops(refined, traffic, chip) < weighted_hops(best, traffic, chip):
            best = refined
    return best


def _swap_refine(core_of: np.ndarray, traffic: np.ndarray, chip: ChipSpec) -> np.ndarray:
    """Pairwise swaps of placed pieces while they cut traffic-weighted hops (a few passes).

    For pieces p, q at routers rp, rq, C = W @ Dist gives every piece's cost at every other
    piece's router, so all swap gains of one pass are one matrix product; disjoint best swaps
    are applied together.
    """
    n = core_of.size
    if n < 2 or n > 2048:
        return core_of
    core_of = core_of.copy()
    w = traffic + traffic.T  # (n+1, n+1), host last
    for _ in range(8):
        routers = np.append(chip.router_of_core(core_of), 0)
        r, c = np.divmod(routers, chip.mesh_cols)
        dist = (np.abs(r[:, None] - r[None, :]) + np.abs(c[:, None] - c[None, :])).astype(float)
        cmat = w[:n] @ dist[:, :n]  # (n, n): cost of piece p at piece q's router
        diag = np.diag(cmat)
        gain = cmat + cmat.T - diag[:, None] - diag[None, :] + 2 * w[:n, :n] * dist[:n, :n]
        np.fill_diagonal(gain, 0.0)
        p_idx, q_idx = np.nonzero(np.triu(gain < -1e-9 * max(1.0, float(w.max()))))
        if p_idx.size == 0:
            break
        order = np.argsort(gain[p_idx, q_idx])
        before = weighted_hops(core_of, traffic, chip)
        trial = core_of.copy()
        used = np.zeros(n, dtype=bool)
        for k in order[: 4 * n]:
            p, q = int(p_idx[k]), int(q_idx[k])
            if used[p] or used[q]:
                continue
            used[p] = used[q] = True
            trial[p], trial[q] = trial[q], trial[p]
        if weighted_hops(trial, traffic, chip) >= before:
            # swaps that touch each other's neighbours need not add up: take only the best
            p, q = int(p_idx[order[0]]), int(q_idx[order[0]])
            trial = core_of.copy()
            trial[p], trial[q] = trial[q], trial[p]
            if weighted_hops(trial, traffic, chip) >= before:
                break
        core_of = trial
    return core_of


def _greedy(traffic: np.ndarray, chip: ChipSpec, n: int) -> np.ndarray:
    """Place the piece most attached to those already placed on the free router that
    minimises its traffic-weighted distance to them (host pinned at router 0).

    Candidates are the routers of the fewest chips that hold the pieces (nearest the host's chip
    first), and of those the ones nearest the host, twice as many as needed: a board of many
    chips costs no more than the cores in use, and no chip boundary is crossed needlessly.
    """
    w = traffic + traffic.T  # (n+1, n+1)
    table = chip.router_cores()  # (R, cpr)
    free_all = (table >= 0).sum(axis=1)
    rows_all, cols_all = router_positions(chip)
    d_host = rows_all + cols_all
    # whole chips first (chip-to-chip links are the slow ones), nearest the host's chip first
    chip_of = chip.chip_of_router(np.arange(chip.n_routers))
    cr, cc = np.divmod(np.arange(chip.n_chips), chip.board_cols)
    chips_needed = -(-n // chip.cores_per_chip)
    chip_rank = np.argsort(np.argsort(cr + cc, kind="stable"), kind="stable")  # per chip
    in_chips = chip_rank[chip_of] < chips_needed
    order = np.lexsort((np.arange(chip.n_routers), d_host))
    order = order[(free_all[order] > 0) & in_chips[order]]
    need = np.searchsorted(np.cumsum(free_all[order]), n) + 1
    cand = np.sort(order[: max(2 * need, need + 16)])
    table, free = table[cand], free_all[cand]
    rows, cols = rows_all[cand], cols_all[cand]
    used = np.zeros(cand.size, dtype=np.int64)

    def dist_from(row: int, col: int) -> np.ndarray:
        return (np.abs(rows - row) + np.abs(cols - col)).astype(np.float64)

    centre = np.abs(rows - (chip.rows - 1) / 2) + np.abs(cols - (chip.cols - 1) / 2)
    tie = centre * 1e-9 * max(float(w.max()), 1.0)
    cost = w[:n, n][:, None] * dist_from(0, 0)[None, :]  # (n, candidates)
    attract = w[:n, n].astype(np.float64).copy()
    placed = np.zeros(n, dtype=bool)
    core_of = np.empty(n, dtype=np.int64)
    for _ in range(n):
        p = int(np.argmax(np.where(placed, -1.0, attract)))
        c = cost[p] + tie
        c[used >= free] = np.inf
        r = int(np.argmin(c))
        core_of[p] = table[r, used[r]]
        used[r] += 1
        placed[p] = True
        nb = np.nonzero((w[p, :n] > 0) & ~placed)[0]
        if nb.size:
            cost[nb] += w[p, nb][:, None] * dist_from(int(rows[r]), int(cols[r]))[None, :]
            attract[nb] += w[p, nb]
    return core_of
