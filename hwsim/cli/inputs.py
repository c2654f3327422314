"""What ``estimate`` and ``compare`` check before any work: the input files a ``--plot`` must
not replace, option combinations that would be silently ignored, and the activity to cost
(measured, else the rate assumption) bounded in memory before anything is allocated."""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

from hwsim.activity import (
    DEFAULT_TIMESTEPS,
    Activity,
    check_footprint,
    load_activity,
    uniform_activity,
)
from hwsim.chip import chip_path
from hwsim.errors import HwsimInputError
from hwsim.network import Network
from safeio import check_outputs


def check_plot(plot: Path | None, net: Path, chips: Iterable[str], activity: Path | None) -> None:
    """The ``--plot`` path policy before any work: never one of the inputs (the graph, a chip
    profile, the activity file), never a folder, FIFO or device, its folder exists and is
    writable (a bad ``--plot`` found after a long run loses the run)."""
    if plot is not None:
        check_outputs([plot], inputs=[net, activity, *(chip_path(c) for c in chips)])


def check_activity_options(activity: Path | None, timesteps: int | None, rate: float) -> None:
    """``--timesteps`` beside ``--activity`` would be ignored (the file's T is used): refuse it
    rather than cost another T than the user asked for; ``--rate`` is a firing probability."""
    if activity is not None and timesteps is not None:
        raise HwsimInputError(
            "--timesteps", str(timesteps), "not with --activity (the file's T is used); drop one"
        )
    if not (math.isfinite(rate) and 0 <= rate <= 1):
        raise HwsimInputError("--rate", str(rate), "spikes per neuron per step, in [0, 1]")


def costed_activity(
    network: Network, net: Path, activity: Path | None, rate: float, timesteps: int | None
) -> Activity:
    """The measured activity, else the rate assumption over the graph's T (or --timesteps);
    refused with the figure when costing it would not fit in memory."""
    if activity is not None:
        act = load_activity(activity, network, rate=rate)
        check_footprint(network, act.timesteps, str(activity))
        return act
    if timesteps is not None and network.timesteps is not None and timesteps != network.timesteps:
        raise HwsimInputError(
            "--timesteps", str(timesteps), f"the graph's metadata T = {network.timesteps}"
        )
    T = timesteps or network.timesteps or DEFAULT_TIMESTEPS
    check_footprint(network, T, "--timesteps" if timesteps else str(net))
    return uniform_activity(rate, T)
