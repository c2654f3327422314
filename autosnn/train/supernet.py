"""Super-network training: single-path uniform sampling, direct training, Spikes_avg measured.

Every slot holds every candidate with its own weights; before each mini-batch one architecture
is drawn uniformly at random and only its path is run and updated. ``Spikes_avg`` (the
denominator of Eq. 3) is the mean number of spikes per image over the paths sampled in the last
training epoch; it is stored in the checkpoint's ``extra``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import autosnn
from autosnn.core.config import TrainConfig
from autosnn.core.network import SpikingNet
from autosnn.core.progress import Reporter
from autosnn.core.spaces import get_space
from autosnn.data import TensorSplit
from autosnn.train import distributed
from autosnn.train.fit import EpochStats, PathSampler, fit, path_rng

SUPERNET_FILE = "supernet.pt"
SUPERNET_STATE_FILE = "supernet-state.pt"


@dataclass(frozen=True)
class SupernetResult:
    """The trained super-network, its measured ``spikes_avg`` and the per-epoch history."""

    net: SpikingNet
    spikes_avg: float
    history: list[EpochStats]


def uniform_sampler(net: SpikingNet, seed: int, epoch: int) -> PathSampler:
    """Draw one architecture uniformly per call (the epoch's own seeded generator)."""
    cfg = net.config
    spec = get_space(cfg.name)
    if cfg.candidates is not None:
        spec = spec.with_candidates(cfg.candidates)
    rng = path_rng(seed, epoch)
    return lambda: spec.sample(rng)


def train_supernet(
    net: SpikingNet,
    train: TensorSplit,
    cfg: TrainConfig,
    *,
    out: Path,
    resume: bool = False,
    extra: dict | None = None,
    reporter: Reporter | None = None,
    sync_bn: bool = False,
) -> SupernetResult:
    """Train ``net`` (from :func:`autosnn.build_supernet`) and write ``out/supernet.pt``.

    The checkpoint's ``extra`` holds ``spikes_avg``, the training settings and history, plus
    ``extra`` (e.g. the data settings). Training state is saved per epoch in
    ``out/supernet-state.pt`` for ``resume``. Under torchrun every rank trains (DDP, the same
    path at every step) and rank 0 alone writes; ``sync_bn``: see :func:`autosnn.train.fit.fit`.
    """
    if net.config.kind != "supernet":
        raise ValueError("train_supernet needs a super-network (autosnn.build_supernet)")
    history = fit(
        net, train, cfg, state_path=out / SUPERNET_STATE_FILE, resume=resume,
        sample_path_factory=lambda epoch: uniform_sampler(net, cfg.seed, epoch),
        fingerprint={"config": net.config.to_json(), **(extra or {})}, reporter=reporter,
        sync_bn=sync_bn,
    )
    # The ANN variant has no spikes (its max-pool outputs are real values, not spike counts).
    spiking = net.config.neuron == "plif"
    spikes_avg = history[-1].spikes if history and spiking else 0.0
    if distributed.is_main():
        autosnn.save(net, out / SUPERNET_FILE, extra={
            **(extra or {}),
            "spikes_avg": spikes_avg,
            "train": asdict(cfg),
            "history": [asdict(h) for h in history],
        })
    distributed.barrier()  # the file exists for every rank once this returns (shared storage)
    return SupernetResult(net, spikes_avg, history)
