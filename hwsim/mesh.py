"""2D mesh links and vectorised dimension-order (XY) routes.

Directed links are numbered in four blocks: east (r,c)->(r,c+1), west (r,c+1)->(r,c),
south (r,c)->(r+1,c), north (r+1,c)->(r,c). A route first moves along its row to the
destination column, then along that column: the classic deadlock-free XY order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Mesh:
    rows: int
    cols: int

    def __post_init__(self) -> None:
        if self.rows < 1 or self.cols < 1:
            raise ValueError(f"mesh must be at least 1x1, got {self.rows}x{self.cols}")

    @property
    def n_routers(self) -> int:
        return self.rows * self.cols

    @property
    def _h(self) -> int:
        return self.rows * (self.cols - 1)

    @property
    def _v(self) -> int:
        return (self.rows - 1) * self.cols

    @property
    def n_links(self) -> int:
        return 2 * self._h + 2 * self._v

    def link_ends(self) -> tuple[np.ndarray, np.ndarray]:
        """(from_router, to_router) of every directed link, in link-id order."""
        r, c = (
            np.divmod(np.arange(self._h), self.cols - 1)
            if self.cols > 1
            else (np.zeros(0, int), np.zeros(0, int))
        )
        west_a = r * self.cols + c
        east = (west_a, west_a + 1)
        west = (west_a + 1, west_a)
        rv, cv = np.divmod(np.arange(self._v), self.cols)
        top = rv * self.cols + cv
        south = (top, top + self.cols)
        north = (top + self.cols, top)
        src = np.concatenate([east[0], west[0], south[0], north[0]])
        dst = np.concatenate([east[1], west[1], south[1], north[1]])
        return src.astype(np.int64), dst.astype(np.int64)


def _steps(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For segments of the given lengths: (segment index, step 0..len-1) per step."""
    seg = np.repeat(np.arange(lengths.size), lengths)
    starts = np.cumsum(lengths) - lengths
    return seg, np.arange(seg.size) - np.repeat(starts, lengths)


def xy_links(mesh: Mesh, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All links of the XY routes src[k] -> dst[k]: returns (route index k, link id) arrays.

    Route k has exactly |dr| + |dc| entries, so bincounts over the result give hop counts,
    per-link loads and per-route sums without a Python loop.
    """
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    r1, c1 = np.divmod(src, mesh.cols)
    r2, c2 = np.divmod(dst, mesh.cols)
    h, v, cols = mesh._h, mesh._v, mesh.cols
    # horizontal leg along row r1
    k, s = _steps(np.abs(c2 - c1))
    east = c2[k] > c1[k]
    col = np.where(east, c1[k] + s, c1[k] - s - 1)  # left end of the link
    hlink = np.where(east, 0, h) + r1[k] * (cols - 1) + col
    # vertical leg along column c2
    k2, s2 = _steps(np.abs(r2 - r1))
    south = r2[k2] > r1[k2]
    row = np.where(south, r1[k2] + s2, r1[k2] - s2 - 1)  # upper end of the link
    vlink = 2 * h + np.where(south, 0, v) + row * cols + c2[k2]
    return np.concatenate([k, k2]), np.concatenate([hlink, vlink])
