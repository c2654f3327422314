"""Cycle-level input-buffered mesh routers with credit-based flow control, vectorised over ports.

Why this exists: an analytic NoC model that assumes infinite FIFOs saturates exactly at the
channel-load bound (0.5 flits/node/cycle for uniform traffic on an 8x8 mesh), so checking it
against a simulator with the same infinite FIFOs agrees by construction. Real routers have a few
flits of buffer per input port; when a downstream buffer is full its upstream neighbour must wait
(back-pressure), a blocked head flit stalls the flits behind it (head-of-line blocking), and the
network saturates below the channel-load bound, as cycle-accurate simulators such as BookSim2
show. This module models exactly that and nothing more:

- every router has 5 input ports (injection, and one per mesh direction) and 5 output ports
  (ejection, and one per mesh direction); each input port has `vcs` virtual channels, each a FIFO
  of `buffer_flits` flits;
- packets of `packet_flits` flits (1 by default: one spike message is one flit), routed XY
  (dimension order: along the row, then along the column), which is deadlock-free on a mesh with
  any VC choice; longer packets move wormhole-style: the head flit claims a free downstream VC,
  the body follows on it, and the tail releases it, so flits of two packets never share a VC at
  once;
- credit-based flow control: an output port holds one credit per free slot of each downstream VC;
  sending a flit spends one, and the slot's credit comes back `credit_cycles` after the flit
  leaves the downstream buffer. No flit is ever sent without a credit, so buffers never overflow;
  a packet is delivered when its tail flit is ejected;
- separable allocation every cycle: each input port picks one of its ready VCs whose output has a
  credit (round robin), then each output port grants one of the requesting input ports (round
  robin); the flit goes to the downstream VC with the most credits;
- timing: a flit written into an input buffer at cycle a may cross the switch at cycle
  a + `router_cycles` or later and is written into the next router's buffer `link_cycles` after
  crossing; so an uncontended packet over H hops takes (H + 1) router stages + H link stages,
  the zero-load pipeline of `hwsim.synthetic`;
- source queues are unbounded (the node keeps producing when the network pushes back), and feed
  the injection port's VCs one flit per cycle; the ejection port sinks one flit per cycle.

State lives in flat numpy arrays indexed by (router * 5 + port) * vcs + vc, so one cycle is a few
dozen array operations whatever the mesh size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwsim.mesh import Mesh

PORTS = 5  # 0 local (injection in / ejection out), 1 east, 2 west, 3 south, 4 north
_OPPOSITE = np.array([0, 2, 1, 4, 3])


@dataclass(frozen=True)
class RouterConfig:
    """Router micro-architecture. Defaults (assumption, not any neuromorphic chip's published
    router): gem5 Garnet's defaults of 4 VCs per input port (`vcs_per_vnet`) of 4 flits each
    (`buffers_per_data_vc`), with one-cycle router, link and credit return, single-flit packets."""

    router_cycles: int = 1
    link_cycles: int = 1
    vcs: int = 4
    buffer_flits: int = 4
    credit_cycles: int = 1
    packet_flits: int = 1

    def __post_init__(self) -> None:
        lows = {"router_cycles": 1, "link_cycles": 0, "vcs": 1, "buffer_flits": 1,
                "credit_cycles": 1, "packet_flits": 1}
        for name, low in lows.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def xy_directions(mesh: Mesh) -> np.ndarray:
    """(N, N) output port taken at router r for a packet bound to router d under XY routing."""
    r, c = np.divmod(np.arange(mesh.n_routers), mesh.cols)
    dc = c[None, :] - c[:, None]
    dr = r[None, :] - r[:, None]
    out = np.where(dr > 0, 3, np.where(dr < 0, 4, 0))
    out = np.where(dc > 0, 1, np.where(dc < 0, 2, out))
    return out.astype(np.int64)


def neighbours(mesh: Mesh) -> np.ndarray:
    """(N, 5) router reached through each output port (-1 for ejection and the mesh edge)."""
    r, c = np.divmod(np.arange(mesh.n_routers), mesh.cols)
    idx = np.arange(mesh.n_routers)
    nb = np.full((mesh.n_routers, PORTS), -1, dtype=np.int64)
    nb[:, 1] = np.where(c + 1 < mesh.cols, idx + 1, -1)
    nb[:, 2] = np.where(c > 0, idx - 1, -1)
    nb[:, 3] = np.where(r + 1 < mesh.rows, idx + mesh.cols, -1)
    nb[:, 4] = np.where(r > 0, idx - mesh.cols, -1)
    return nb


class NocSim:
    """One simulation of a fixed list of packets (source, destination, birth cycle).

    Packets leave their source queue in birth order (ties in the order given), so the caller
    decides the order of a burst. `delivered[k]` is the cycle packet k's tail flit was ejected
    (-1 until then); flit j of packet k has id k * packet_flits + j in the buffers.
    The buffer and credit state (`cnt`, `credit`, `credit_wheel`) is public so tests can check
    the flow-control invariants cycle by cycle.
    """

    def __init__(
        self,
        mesh: Mesh,
        cfg: RouterConfig,
        src: np.ndarray,
        dst: np.ndarray,
        birth: np.ndarray,
    ) -> None:
        src = np.asarray(src, dtype=np.int64)
        dst = np.asarray(dst, dtype=np.int64)
        birth = np.asarray(birth, dtype=np.int64)
        n = mesh.n_routers
        if not (src.shape == dst.shape == birth.shape and src.ndim == 1):
            raise ValueError("src, dst and birth must be 1-D arrays of one length")
        if src.size and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= n):
            raise ValueError(f"router ids must be in [0, {n})")
        if birth.size and birth.min() < 0:
            raise ValueError("birth cycles must be >= 0")
        self.mesh, self.cfg = mesh, cfg
        self.dst, self.birth = dst, birth
        self.delivered = np.full(src.size, -1, dtype=np.int64)
        self.now = 0
        self.n_delivered = 0
        self.ejected_flits = 0
        v, b = cfg.vcs, cfg.buffer_flits
        p = n * PORTS
        self._route = xy_directions(mesh)
        nb = neighbours(mesh).ravel()
        ports = np.arange(p)
        router, port = np.divmod(ports, PORTS)
        # output port (r, o) feeds input port (nb, o) of the next router: its first VC's index
        self._down_base = np.where(nb >= 0, (nb * PORTS + port) * v, -1)
        # input port (r, i), i > 0, is fed by output port (r', i) of r' = neighbour opposite to i
        up_router = nb.reshape(n, PORTS)[router, _OPPOSITE[port]]
        self._up_port = np.where((port > 0) & (up_router >= 0), up_router * PORTS + port, -1)
        self.buf = np.zeros((p * v, b), dtype=np.int64)  # flit ids
        self.ready = np.zeros((p * v, b), dtype=np.int64)  # first cycle it may cross the switch
        self.head = np.zeros(p * v, dtype=np.int64)
        self.cnt = np.zeros(p * v, dtype=np.int64)
        self.credit = np.full((p, v), b, dtype=np.int64)
        self.credit[port == 0] = 0  # ejection has no downstream buffer (it sinks every cycle)
        self.credit_wheel = np.zeros((cfg.credit_cycles + 1, p, v), dtype=np.int64)
        self._rr_in = np.zeros(p, dtype=np.int64)
        self._rr_out = np.zeros(p, dtype=np.int64)
        # wormhole state: the packet holding each downstream VC (-1: free), the downstream VC of
        # the packet at the front of each input VC, and each source's packet in injection
        self.owner = np.full((p, v), -1, dtype=np.int64)
        self._out_vc = np.full(p * v, -1, dtype=np.int64)
        self._cursor = np.zeros(n, dtype=np.int64)  # next flit of the packet being injected
        self._inj_vc = np.zeros(n, dtype=np.int64)
        # source queues: packets grouped by source, in birth order (stable: ties keep input order)
        self._order = np.lexsort((birth, src))
        counts = np.bincount(src, minlength=n)
        self._qend = np.cumsum(counts)
        self._qptr = self._qend - counts
        # a pointer past a queue's end reads a sentinel packet that is never born
        self._qpad = np.append(self._order, src.size)
        self._birth_pad = np.append(birth, np.iinfo(np.int64).max)
        self._watch = np.zeros(src.size + 1, dtype=bool)
        self.watched_left = 0

    def step(self) -> None:
        """Advance one cycle: credits return, sources inject, switches allocate, flits move."""
        t = self.now
        slot_wheel = self.credit_wheel[t % (self.cfg.credit_cycles + 1)]
        self.credit += slot_wheel
        slot_wheel[:] = 0
        self._inject(t)
        requests = self._requests(t)
        if requests is not None:
            self._move(t, *self._arbitrate(*requests))
        self.now = t + 1

    def _inject(self, t: int) -> None:
        """The next flit of each source queue's born head packet; a head flit enters the
        emptiest injection VC, the rest of its packet follows it there."""
        cfg, cnt = self.cfg, self.cnt
        v_n, b_n, f_n = cfg.vcs, cfg.buffer_flits, cfg.packet_flits
        ptr = self._qptr
        pend = ptr < self._qend
        pkt = self._qpad[ptr]
        pend &= self._birth_pad[pkt] <= t
        if not pend.any():
            return
        srcs = np.flatnonzero(pend)
        k = self._cursor[srcs]
        inj = cnt.reshape(-1, PORTS, v_n)[srcs, 0, :]
        vc = np.where(k == 0, inj.argmin(axis=1), self._inj_vc[srcs])
        ok = inj[np.arange(srcs.size), vc] < b_n
        srcs, vc, k = srcs[ok], vc[ok], k[ok]
        q = srcs * PORTS * v_n + vc
        slot = (self.head[q] + cnt[q]) % b_n
        self.buf[q, slot] = pkt[srcs] * f_n + k
        self.ready[q, slot] = t + cfg.router_cycles
        cnt[q] += 1
        self._inj_vc[srcs] = vc
        last = k + 1 == f_n
        self._cursor[srcs] = np.where(last, 0, k + 1)
        ptr[srcs] += last

    def _requests(self, t: int) -> tuple[np.ndarray, ...] | None:
        """Ready front flits that can go, as (input VC, input port, output direction, output
        port): to ejection always; a head flit where its output has a free downstream VC with a
        credit; a body flit where its packet's VC has one. None when nothing can move."""
        v_n, f_n = self.cfg.vcs, self.cfg.packet_flits
        qs = np.flatnonzero(self.cnt)
        if qs.size == 0:
            return None
        qs = qs[self.ready[qs, self.head[qs]] <= t]
        fl = self.buf[qs, self.head[qs]]
        p_in = qs // v_n
        router = p_in // PORTS
        out = self._route[router, self.dst[fl // f_n]]
        p_out = router * PORTS + out
        cred = self.credit[p_out]
        if f_n == 1:  # every flit is a head and a tail: no VC is ever held
            ok = (out == 0) | (cred.max(axis=1) > 0)
        else:
            head_ok = ((cred > 0) & (self.owner[p_out] < 0)).any(axis=1)
            body_ok = cred[np.arange(qs.size), self._out_vc[qs]] > 0
            ok = (out == 0) | np.where(fl % f_n == 0, head_ok, body_ok)
        if not ok.any():
            return None
        return qs[ok], p_in[ok], p_out[ok]

    def _arbitrate(self, qs: np.ndarray, p_in: np.ndarray,
                   p_out: np.ndarray) -> tuple[np.ndarray, ...]:
        """Input arbitration (one VC per input port), then output arbitration (one input port
        per output port), both round robin from the ports' pointers. Returns the winners as
        (input VC, input port, its VC, output port, input direction)."""
        v_n = self.cfg.vcs
        vc = qs % v_n
        n_ports = self._rr_in.size
        prio = np.full(n_ports * v_n, v_n, dtype=np.int64)
        prio[qs] = (vc - self._rr_in[p_in]) % v_n
        want_out = np.zeros(n_ports * v_n, dtype=np.int64)
        want_out[qs] = p_out
        best_vc = prio.reshape(n_ports, v_n).argmin(axis=1)
        cand = np.flatnonzero(prio.reshape(n_ports, v_n)[np.arange(n_ports), best_vc] < v_n)
        cand_q = cand * v_n + best_vc[cand]
        cand_out = want_out[cand_q]
        cand_in = cand % PORTS
        prio2 = np.full((n_ports, PORTS), PORTS, dtype=np.int64)
        prio2[cand_out, cand_in] = (cand_in - self._rr_out[cand_out]) % PORTS
        best_in = prio2.argmin(axis=1)
        win_out = np.flatnonzero(prio2[np.arange(n_ports), best_in] < PORTS)
        win_in_dir = best_in[win_out]
        win_port = (win_out // PORTS) * PORTS + win_in_dir
        win_vc = best_vc[win_port]
        win_q = win_port * v_n + win_vc
        self._rr_in[win_port] = (win_vc + 1) % v_n
        self._rr_out[win_out] = (win_in_dir + 1) % PORTS
        return win_q, win_port, win_vc, win_out, win_in_dir

    def _move(self, t: int, win_q: np.ndarray, win_port: np.ndarray, win_vc: np.ndarray,
              win_out: np.ndarray, win_in_dir: np.ndarray) -> None:
        """Pop the winners, return their slots' credits upstream, eject or forward."""
        cfg, head, cnt = self.cfg, self.head, self.cnt
        b_n, f_n = cfg.buffer_flits, cfg.packet_flits
        moving = self.buf[win_q, head[win_q]]
        m_pkt, m_k = np.divmod(moving, f_n)
        tail = m_k == f_n - 1
        head[win_q] = (head[win_q] + 1) % b_n
        cnt[win_q] -= 1
        back = win_in_dir > 0
        self.credit_wheel[(t + cfg.credit_cycles) % (cfg.credit_cycles + 1)][
            self._up_port[win_port[back]], win_vc[back]
        ] += 1
        eject = win_out % PORTS == 0
        self.ejected_flits += int(eject.sum())
        done = m_pkt[eject & tail]
        self.delivered[done] = t
        self.n_delivered += done.size
        self.watched_left -= int(self._watch[done].sum())
        fwd = ~eject
        fwd_out = win_out[fwd]
        if not fwd_out.size:
            return
        # a head flit takes the free VC with most credits; a body flit its packet's VC
        if f_n == 1:
            down_vc = self.credit[fwd_out].argmax(axis=1)
        else:
            free_cred = np.where(self.owner[fwd_out] < 0, self.credit[fwd_out], -1)
            up_q = win_q[fwd]
            down_vc = np.where(m_k[fwd] == 0, free_cred.argmax(axis=1), self._out_vc[up_q])
            f_tail = tail[fwd]
            self.owner[fwd_out, down_vc] = np.where(f_tail, -1, m_pkt[fwd])
            self._out_vc[up_q] = np.where(f_tail, -1, down_vc)
        self.credit[fwd_out, down_vc] -= 1
        dq = self._down_base[fwd_out] + down_vc
        slot = (head[dq] + cnt[dq]) % b_n
        self.buf[dq, slot] = moving[fwd]
        self.ready[dq, slot] = t + cfg.link_cycles + cfg.router_cycles
        cnt[dq] += 1

    def watch(self, packets: np.ndarray) -> None:
        """Count these packets (ids or a mask) in `watched_left` until they are delivered."""
        self._watch[:-1] = False
        self._watch[:-1][packets] = True
        self.watched_left = int((self._watch[:-1] & (self.delivered < 0)).sum())

    def run(self, until: int, *, stop_when_watched: bool = False) -> None:
        """Step until cycle `until`, or earlier once every watched packet is delivered."""
        while self.now < until:
            if stop_when_watched and self.watched_left == 0:
                return
            self.step()
