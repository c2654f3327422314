"""The cycle-level NoC simulator: hand-counted pipelines, credit flow control, saturation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from hwsim.cli import app
from hwsim.mesh import Mesh
from hwsim.noc_router import PORTS, NocSim, RouterConfig, neighbours
from hwsim.nocsim import simulate, simulate_burst
from hwsim.synthetic import synthetic, synthetic_report

runner = CliRunner()

def run_all(sim: NocSim, limit: int = 10_000) -> None:
    sim.watch(np.arange(sim.delivered.size))
    sim.run(limit, stop_when_watched=True)
    assert sim.watched_left == 0, "packets left in the network"


# --- zero load: the pipeline, counted by hand ---------------------------------------------------
def test_one_packet_takes_its_hops_in_router_and_link_cycles() -> None:
    # 3x4 mesh, router 0 = (0,0) -> router 11 = (2,3): 3 hops east, 2 south = 5 links, and
    # 6 routers crossed (source and destination included): 6 x 2 + 5 x 3 = 27 cycles
    cfg = RouterConfig(router_cycles=2, link_cycles=3)
    sim = NocSim(Mesh(3, 4), cfg, np.array([0]), np.array([11]), np.array([7]))
    run_all(sim)
    assert sim.delivered[0] - 7 == 27


def test_wormhole_packet_adds_its_serialisation() -> None:
    # the same 5-hop route with 3-flit packets: the tail leaves 2 cycles after the head
    cfg = RouterConfig(router_cycles=2, link_cycles=3, packet_flits=3)
    sim = NocSim(Mesh(3, 4), cfg, np.array([0]), np.array([11]), np.array([7]))
    run_all(sim)
    assert sim.delivered[0] - 7 == 27 + 2
    assert sim.ejected_flits == 3


def test_packet_to_its_own_router_takes_one_router_stage() -> None:
    sim = NocSim(Mesh(2, 2), RouterConfig(router_cycles=3), np.array([2]), np.array([2]),
                 np.array([0]))
    run_all(sim)
    assert sim.delivered[0] == 3


def test_zero_load_latency_matches_the_analytic_pipeline() -> None:
    res = simulate(8, 8, "uniform", 0.002, warmup=100, measure=3000, seed=4)
    # 8x8 uniform: H = 2(k^2 - 1)/(3k) = 5.25; (H + 1) + H = 11.5 cycles with 1-cycle stages
    assert not res.saturated
    assert res.mean_latency_cycles == pytest.approx(11.5, abs=0.6)
    assert res.mean_latency_cycles == pytest.approx(
        synthetic(8, 8, "uniform", 0.002).mean_latency_cycles, abs=0.6
    )


# --- credit flow control --------------------------------------------------------------------------
@pytest.mark.parametrize(("buffer_flits", "spacing"), [(1, 6), (2, 3), (6, 1)])
def test_credit_round_trip_limits_a_stream_to_buffers_per_round_trip(
    buffer_flits: int, spacing: int
) -> None:
    # one stream 0 -> 1 over one link; a slot's credit is back link (2) + router (1) + credit (3)
    # = 6 cycles after the flit was sent, so B slots carry B flits per 6 cycles
    cfg = RouterConfig(router_cycles=1, link_cycles=2, credit_cycles=3, vcs=1,
                       buffer_flits=buffer_flits)
    n = 13  # 12 gaps: whole periods of the B = 2 pattern (1, 5)
    sim = NocSim(Mesh(1, 2), cfg, np.zeros(n, int), np.ones(n, int), np.zeros(n, int))
    run_all(sim)
    gaps = np.diff(np.sort(sim.delivered))
    # steady state (after the first round trip): one delivery every `spacing` cycles on average
    assert gaps[buffer_flits:].mean() == pytest.approx(spacing)
    assert sim.delivered.min() == 4  # injected at 0, router 1 + link 2 + router 1


def test_burst_drain_hand_counted_and_slower_than_analytic_when_credits_bind() -> None:
    src, dst, count = np.array([0]), np.array([1]), np.array([10])
    # ample buffers: one message per cycle, the last injected at 9 and delivered 3 cycles later
    fast = simulate_burst(Mesh(1, 2), src, dst, count)
    assert fast.drain_cycles == 13 and fast.analytic_cycles == 13
    # one slot per VC and a 6-cycle credit loop: one message per 6 cycles on the link
    tight = RouterConfig(link_cycles=2, credit_cycles=3, vcs=1, buffer_flits=1)
    slow = simulate_burst(Mesh(1, 2), src, dst, count, router=tight)
    assert slow.drain_cycles == 4 + 9 * 6 + 1
    assert slow.analytic_cycles == 10 + 2 * 1 + 2  # busiest channel + zero-load path
    assert slow.drain_cycles > 2 * slow.analytic_cycles


def invariants(sim: NocSim) -> None:
    """Buffers within capacity, credits never negative, and each network output port's credits
    (held + returning) plus its downstream VC's occupancy equal the buffer depth."""
    cfg = sim.cfg
    assert (sim.cnt >= 0).all() and (sim.cnt <= cfg.buffer_flits).all()
    assert (sim.credit >= 0).all() and (sim.credit_wheel >= 0).all()
    nb = neighbours(sim.mesh).ravel()
    ports = np.flatnonzero(nb >= 0)
    downstream = (nb[ports] * PORTS + ports % PORTS)[:, None] * cfg.vcs + np.arange(cfg.vcs)
    held = sim.credit[ports] + sim.credit_wheel.sum(axis=0)[ports]
    np.testing.assert_array_equal(held + sim.cnt[downstream], cfg.buffer_flits)
    # wormhole: within a VC, flits run packet by packet (flit j + 1 after j, a head after a tail)
    f = cfg.packet_flits
    for q in np.flatnonzero(sim.cnt > 1):
        ids = sim.buf[q, (sim.head[q] + np.arange(sim.cnt[q])) % cfg.buffer_flits]
        nxt, prev = ids[1:], ids[:-1]
        same = (nxt == prev + 1) & (nxt // f == prev // f)
        assert (same | ((prev % f == f - 1) & (nxt % f == 0))).all(), ids


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(1, 3),
    cols=st.integers(1, 3),
    vcs=st.integers(1, 3),
    buffer_flits=st.integers(1, 3),
    router_cycles=st.integers(1, 2),
    link_cycles=st.integers(0, 2),
    credit_cycles=st.integers(1, 3),
    packet_flits=st.integers(1, 3),
    data=st.data(),
)
def test_credits_never_negative_and_buffers_never_overflow(
    rows: int,
    cols: int,
    vcs: int,
    buffer_flits: int,
    router_cycles: int,
    link_cycles: int,
    credit_cycles: int,
    packet_flits: int,
    data: st.DataObject,
) -> None:
    n = rows * cols
    k = data.draw(st.integers(1, 60))
    node = st.integers(0, n - 1)
    src = np.array(data.draw(st.lists(node, min_size=k, max_size=k)))
    dst = np.array(data.draw(st.lists(node, min_size=k, max_size=k)))
    birth = np.array(data.draw(st.lists(st.integers(0, 15), min_size=k, max_size=k)))
    cfg = RouterConfig(router_cycles, link_cycles, vcs, buffer_flits, credit_cycles, packet_flits)
    sim = NocSim(Mesh(rows, cols), cfg, src, dst, birth)
    for _ in range(5_000):
        sim.step()
        invariants(sim)
        if (sim.delivered >= 0).all():
            break
    assert (sim.delivered >= 0).all(), "not drained: deadlock or lost packets"
    assert sim.n_delivered == k  # each packet ejected exactly once, every flit of it
    assert sim.ejected_flits == k * packet_flits
    hops = np.abs(src // cols - dst // cols) + np.abs(src % cols - dst % cols)
    zero_load = (hops + 1) * router_cycles + hops * link_cycles + packet_flits - 1
    assert (sim.delivered - birth >= zero_load).all()
    assert (sim.cnt == 0).all()


def test_bad_router_figures_are_refused() -> None:
    with pytest.raises(ValueError, match="buffer_flits"):
        RouterConfig(buffer_flits=0)
    with pytest.raises(ValueError, match="router_cycles"):
        RouterConfig(router_cycles=0)


# --- steady traffic: saturation below the channel-load bound ---------------------------------
def test_uniform_8x8_saturates_between_0_3_and_0_45() -> None:
    low = simulate(8, 8, "uniform", 0.1, warmup=300, measure=1500, seed=0)
    mid = simulate(8, 8, "uniform", 0.3, warmup=300, measure=1500, seed=0)
    high = simulate(8, 8, "uniform", 0.45, warmup=300, measure=1500, seed=0)
    assert not low.saturated and not mid.saturated, (low.reason, mid.reason)
    assert high.saturated and "accepted" in high.reason
    assert low.accepted_rate == pytest.approx(0.1, rel=0.05)
    assert mid.accepted_rate == pytest.approx(0.3, rel=0.05)
    # saturated below offered, and below the analytic channel-load bound of 4/k = 0.5
    assert high.accepted_rate < 0.95 * high.offered_rate
    assert high.accepted_rate < 0.9 * synthetic(8, 8, "uniform", 0.45).saturation_rate
    assert not synthetic(8, 8, "uniform", 0.45).saturated  # the analytic model cannot see it


def test_wormhole_low_load_matches_analytic_and_saturates_earlier() -> None:
    low = simulate(8, 8, "uniform", 0.02, warmup=100, measure=3000, seed=4,
                   router=RouterConfig(packet_flits=4))
    # zero-load pipeline 11.5 + 3 flits of serialisation
    assert synthetic(8, 8, "uniform", 1e-6, packet_flits=4).zero_load_latency_cycles == (
        pytest.approx(14.5)
    )
    assert low.mean_latency_cycles == pytest.approx(14.5, abs=1.0)
    assert low.accepted_rate == pytest.approx(0.02, rel=0.1)  # rates stay flits/node/cycle
    one = simulate(8, 8, "uniform", 0.4, warmup=300, measure=1500, seed=0)
    four = simulate(8, 8, "uniform", 0.4, warmup=300, measure=1500, seed=0,
                    router=RouterConfig(packet_flits=4))
    assert not one.saturated and four.saturated  # a held VC blocks more than a flit does


def test_latency_rises_sharply_near_0_4() -> None:
    lat = {
        r: simulate(8, 8, "uniform", r, warmup=300, measure=1500, seed=1).mean_latency_cycles
        for r in (0.1, 0.3, 0.4)
    }
    assert lat[0.3] < 1.3 * lat[0.1]  # flat well below saturation
    assert lat[0.4] > 1.5 * lat[0.3]  # the knee


def test_seeded_runs_repeat_and_seeds_differ() -> None:
    a = simulate(4, 4, "uniform", 0.3, warmup=50, measure=300, seed=5)
    b = simulate(4, 4, "uniform", 0.3, warmup=50, measure=300, seed=5)
    c = simulate(4, 4, "uniform", 0.3, warmup=50, measure=300, seed=6)
    assert a == b
    assert a.mean_latency_cycles != c.mean_latency_cycles


def test_hotspot_saturates_where_the_hot_ejection_channel_does() -> None:
    bound = synthetic(4, 4, "hotspot", 0.1, hotspot_fraction=0.5).saturation_rate  # 1 / 8.5
    under = simulate(4, 4, "hotspot", 0.8 * bound, hotspot_fraction=0.5, measure=2000, seed=2)
    over = simulate(4, 4, "hotspot", 1.2 * bound, hotspot_fraction=0.5, measure=2000, seed=2)
    assert not under.saturated and over.saturated


def test_report_takes_the_verdict_from_the_simulation() -> None:
    rep = synthetic_report(8, 8, "uniform", 0.45, warmup=300, measure=1500)
    d = rep.to_dict()
    assert d["verdict_from"] == "simulation" and d["saturated"] is True
    assert d["analytic_saturated"] is False and d["mean_latency_cycles"] is None
    assert d["saturation_rate"] == pytest.approx(0.5)
    assert "SATURATED" in "\n".join(rep.lines())
    over = synthetic_report(4, 4, "uniform", 1.5).to_dict()  # beyond one injection channel
    assert over["simulated"] is None and over["saturated"] is True
    with pytest.raises(ValueError, match="whole cycles"):
        synthetic_report(4, 4, "uniform", 0.1, router_cycles=1.5)


# --- the command ------------------------------------------------------------------------------
@pytest.mark.parametrize(("rate", "saturated"), [(0.1, False), (0.3, False), (0.45, True)])
def test_hwsim_synthetic_8x8_reports_saturation_from_the_simulation(
    rate: float, saturated: bool
) -> None:
    res = runner.invoke(app, ["synthetic", "--mesh", "8x8", "--rate", str(rate), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["verdict_from"] == "simulation"
    assert data["saturated"] is saturated
    assert data["analytic_saturated"] is False  # the analytic bound is 0.5 for every one
    assert data["zero_load_latency_cycles"] == pytest.approx(11.5)
    assert data["simulated"]["cycles"] >= 5000  # 1000 warm-up + 4000 measured by default


def test_hwsim_synthetic_text_shows_both_sides() -> None:
    res = runner.invoke(app, ["synthetic", "--mesh", "4x4", "--rate", "0.2", "--cycles", "500"])
    assert res.exit_code == 0, res.output
    assert "analytic" in res.stdout and "simulated" in res.stdout
    assert "not saturated" in res.stdout
    off = runner.invoke(app, ["synthetic", "--mesh", "4x4", "--rate", "0.2", "--no-sim"])
    assert "simulated: not run" in off.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--vcs", "0"], "vcs"),
        (["--buffer-flits", "0"], "buffer_flits"),
        (["--cycles", "0"], "measure"),
        (["--router-cycles", "1.5"], "whole cycles"),
        (["--mesh", "32x32", "--cycles", "100000"], "node-cycles"),
        (["--rate", "1e308", "--no-sim"], "[0, 1000]"),  # overflowed into nan/inf before
        (["--rate", "1e308"], "[0, 1000]"),
    ],
)
def test_hwsim_synthetic_bad_simulation_options_are_one_line_errors(
    args: list[str], fragment: str
) -> None:
    res = runner.invoke(app, ["synthetic", *args])
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], lines
