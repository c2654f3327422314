"""Direct training of spiking networks (super-network and retraining) with per-epoch resume.

One epoch: shuffled, augmented mini-batches; for the super-network a path is drawn before each
batch (single-path uniform sampling). Loss = MSE(firing rates, one-hot) (+ optional spike
regularisation). All randomness of epoch ``e`` is derived from ``(seed, e)``, so resuming from
the checkpoint written after epoch ``e - 1`` replays exactly what an uninterrupted run does.

Under ``torchrun`` the same loop runs on every rank with DistributedDataParallel: each rank
trains on its slice of the same global batch, with the same path (see
:mod:`autosnn.train.distributed`); rank 0 alone writes the checkpoint.

With ``cfg.quantize`` (e.g. ``loihi2``) the forward pass of the whole run, or of its last
``cfg.quantize_epochs`` epochs, is the chip's integer arithmetic with straight-through gradients
(:mod:`autosnn.train.quantize`): the network trains for the weights its export will hold.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from autosnn.core.checkpoint import atomic_torch_save, check_state, safe_torch_load, seal_state
from autosnn.core.config import TrainConfig
from autosnn.core.errors import AutosnnError, CheckpointError
from autosnn.core.network import SpikingNet
from autosnn.core.neuron import SpikingLayer
from autosnn.core.progress import Reporter
from autosnn.core.runtime import precision_context
from autosnn.core.spaces import Genotype
from autosnn.data import Augment, TensorSplit, batches
from autosnn.train import distributed
from autosnn.train.quantize import check_quantize, quantized

# Called before each batch; returns the path to train (super-network) or None (fixed network).
PathSampler = Callable[[], Genotype | None]


@dataclass(frozen=True)
class EpochStats:
    """Means over one training epoch (spikes per image over the paths actually run)."""

    epoch: int
    loss: float
    accuracy: float
    spikes: float
    samples: int
    seconds: float


def epoch_seed(seed: int, epoch: int) -> int:
    """Seed of epoch ``epoch``'s shuffle and augmentation draws."""
    return seed * 1_000_003 + epoch


def path_rng(seed: int, epoch: int) -> random.Random:
    """The super-network's path sampler of one epoch."""
    return random.Random(f"paths:{seed}:{epoch}")


def spike_regulariser(net: SpikingNet, target: float | None = None) -> Tensor:
    """Mean over the active spiking layers of their mean spike (firing probability per step).

    With ``target`` (a firing probability), only the excess over it: ``max(0, mean - target)``.
    A network fine-tuned to a chip budget must fire *less than* what was costed, not as little
    as it can (that costs accuracy the budget does not ask for)."""
    terms = [m.last_output.mean() for _, m in net.active_spiking_layers()
             if m.last_output is not None]
    mean = torch.stack(terms).mean() if terms else torch.zeros(())
    return mean if target is None else torch.relu(mean - target)


def _keep_outputs(net: nn.Module, enabled: bool) -> None:
    for m in net.modules():
        if isinstance(m, SpikingLayer):
            m.keep_output = enabled
            m.last_output = None


def train_epoch(
    net: SpikingNet,
    split: TensorSplit,
    cfg: TrainConfig,
    optimizer: torch.optim.Optimizer,
    epoch: int,
    *,
    sample_path: PathSampler | None = None,
    reporter: Reporter | None = None,
    model: nn.Module | None = None,
    spike_target: float | None = None,
) -> EpochStats:
    """One pass over ``split``; returns the epoch's mean loss, accuracy and spikes per image.

    ``model`` is what runs the forward pass: ``net`` itself, or its DistributedDataParallel
    wrapper under torchrun (then the statistics are those of the global batches, all ranks).
    ``spike_target``: the spike regulariser penalises only firing above it
    (:func:`spike_regulariser`; fine-tuning to a chip budget).
    """
    device = next(net.parameters()).device
    model = net if model is None else model
    rank, world = distributed.info().rank, distributed.info().world
    net.train()
    augment = Augment(crop_pad=cfg.crop_pad, flip=cfg.flip, cutout=cfg.cutout)
    _keep_outputs(net, cfg.spike_reg > 0)
    num_classes = net.config.num_classes
    tot_loss = tot_correct = tot_spikes = 0.0
    seen = 0
    start = time.perf_counter()
    n_batches = -(-len(split) // cfg.batch_size)
    task = reporter.start(f"epoch {epoch + 1}/{cfg.epochs}", n_batches) if reporter else None
    for x, y in batches(split, cfg.batch_size, shuffle=True, seed=epoch_seed(cfg.seed, epoch),
                        device=device, augment=augment):
        if sample_path is not None:  # drawn before any skip: every rank stays on one sequence
            path = sample_path()
            if path is not None:
                net.set_genotype(path)
        n_global = y.shape[0]
        part = distributed.shard(x, y, rank, world)
        if part is None:  # a last batch smaller than the number of ranks
            continue
        x, y = part
        with precision_context(cfg.precision, device):
            rates = model(x)  # (n, classes)
        target = nn.functional.one_hot(y, num_classes).to(rates.dtype)
        loss = nn.functional.mse_loss(rates.float(), target)
        if cfg.spike_reg > 0:
            loss = loss + cfg.spike_reg * spike_regulariser(net, spike_target)
        optimizer.zero_grad(set_to_none=True)
        if world > 1:  # DDP averages over ranks: weight each slice by its share of the batch
            (loss * (world * y.shape[0] / n_global)).backward()
        else:
            loss.backward()
        optimizer.step()
        n = y.shape[0]
        stats = torch.stack([loss.detach(), (rates.argmax(1) == y).sum().float(),
                             net.total_spikes()]).tolist()
        tot_loss += stats[0] * n
        tot_correct += stats[1]
        tot_spikes += stats[2] * n
        seen += n
        if reporter and task is not None:
            reporter.advance(task, loss=tot_loss / seen, acc=tot_correct / seen,
                             spikes=tot_spikes / seen)
    _keep_outputs(net, False)
    if reporter and task is not None:
        reporter.finish(task)
    if world > 1:
        tot_loss, tot_correct, tot_spikes, seen_f = distributed.all_reduce_sum(
            [tot_loss, tot_correct, tot_spikes, float(seen)])
        seen = int(round(seen_f))
    seen = max(seen, 1)
    return EpochStats(epoch, tot_loss / seen, tot_correct / seen, tot_spikes / seen, seen,
                      time.perf_counter() - start)


def make_optimizer(net: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """Adam(lr, betas (0.9, 0.999)), no weight decay (paper)."""
    return torch.optim.Adam(net.parameters(), lr=cfg.lr, betas=(0.9, 0.999))


def _fingerprint(cfg: TrainConfig, extra: dict) -> str:
    d = asdict(cfg)
    d.pop("epochs")  # a resumed run may extend the number of epochs
    d.pop("device")
    if cfg.quantize is None:  # runs without QAT keep the fingerprint they had before it existed
        d.pop("quantize")
        d.pop("quantize_epochs")
    return json.dumps({"train": d, **extra}, sort_keys=True)


def quantize_from(cfg: TrainConfig) -> int | None:
    """The first epoch trained with the chip's arithmetic (``cfg.quantize``), None without QAT:
    the whole run, or the last ``cfg.quantize_epochs`` epochs (fine-tuning a float network)."""
    if cfg.quantize is None:
        return None
    check_quantize(cfg.quantize)
    return 0 if cfg.quantize_epochs is None else max(0, cfg.epochs - cfg.quantize_epochs)


def _read_state(state_path: Path, fp: str) -> dict:
    """The training state to resume from, written with the same settings (``fp``) and
    unchanged since (its SHA-256: :func:`~autosnn.core.checkpoint.check_state`)."""
    state = check_state(state_path, safe_torch_load(state_path))  # a mapping, undamaged
    if state.get("fingerprint") != fp:
        raise CheckpointError(
            f"{state_path}: was written with other settings; rerun without --resume "
            f"or with the same options (saved: {state.get('fingerprint')})"
        )
    return state


def fit(
    net: SpikingNet,
    split: TensorSplit,
    cfg: TrainConfig,
    *,
    state_path: Path,
    resume: bool,
    sample_path_factory: Callable[[int], PathSampler] | None = None,
    fingerprint: dict | None = None,
    reporter: Reporter | None = None,
    sync_bn: bool = False,
) -> list[EpochStats]:
    """Train ``net`` for ``cfg.epochs`` epochs, checkpointing after every epoch to ``state_path``.

    With ``resume`` and an existing ``state_path``, the weights, optimizer and history are
    restored and training continues at the next epoch (settings must match the checkpoint's).
    ``sample_path_factory(epoch)`` gives the path sampler of an epoch (super-network).
    Under torchrun: DDP, rank 0 reads the resume state and hands it to the others, only rank 0
    writes and reports; ``sync_bn`` normalises over the global batch instead of each rank's
    slice (no effect in one process). ``net`` comes back unwrapped, with plain BatchNorm.
    """
    dist_info = distributed.info()
    reporter = reporter if dist_info.is_main else None
    qat_from = quantize_from(cfg)
    if qat_from is not None and sample_path_factory is not None:
        raise AutosnnError(f"--quantize {cfg.quantize}: quantisation-aware training needs a fixed "
                           "network (train or retrain), not a super-network")
    optimizer = make_optimizer(net, cfg)
    history: list[EpochStats] = []
    fp = _fingerprint(cfg, fingerprint or {})
    start_epoch = 0
    state = distributed.broadcast_from_main(
        lambda: _read_state(state_path, fp) if resume and state_path.is_file() else None)
    if state is not None:
        history, start_epoch = _restore(state, net, optimizer, state_path)
        if reporter:
            reporter.log(f"resumed from {state_path} after epoch {start_epoch}")
    if dist_info.enabled and sync_bn:
        distributed.convert_batchnorm(net)
    model: nn.Module | None = None
    try:
        for epoch in range(start_epoch, cfg.epochs):
            sampler = sample_path_factory(epoch) if sample_path_factory else None
            if qat_from is not None and epoch == max(qat_from, start_epoch):
                # from here on the forward pass runs the chip's integer arithmetic (same
                # parameters, so the optimizer state carries over)
                assert cfg.quantize is not None
                model = distributed.wrap(quantized(net, cfg.quantize), find_unused=False)
                if reporter:
                    reporter.log(f"epoch {epoch + 1}: quantisation-aware training for "
                                 f"{cfg.quantize}")
            elif model is None:
                model = distributed.wrap(net, find_unused=sample_path_factory is not None)
            stats = train_epoch(net, split, cfg, optimizer, epoch, sample_path=sampler,
                                reporter=reporter, model=model)
            history.append(stats)
            if dist_info.is_main:
                _save_state(net, optimizer, epoch, history, fp, state_path)
            if reporter:
                reporter.log(
                    f"epoch {epoch + 1}/{cfg.epochs}: loss {stats.loss:.4f} acc "
                    f"{100 * stats.accuracy:.2f}% spikes/img {stats.spikes:,.0f} "
                    f"({stats.seconds:.0f} s)"
                )
    finally:
        distributed.restore_batchnorm(net)
    return history


def _restore(state: dict, net: nn.Module, optimizer: torch.optim.Optimizer,
             state_path: Path) -> tuple[list[EpochStats], int]:
    """Load a resume state into ``net`` and ``optimizer``; a hand-edited or damaged file is one
    line naming the file and the field, never a traceback halfway through loading."""
    field = "model"
    try:
        net.load_state_dict(state["model"])
        field = "optimizer"
        optimizer.load_state_dict(state["optimizer"])
        field = "history"
        history = [EpochStats(**h) for h in json.loads(state["history"])]
        field = "epoch"
        epoch = state["epoch"]
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"expected an epoch number >= 0, got {epoch!r}"[:200])
        if len(history) != epoch + 1:  # written together after every epoch: an edit shows here
            raise ValueError(f"epoch {epoch} but {len(history)} epochs of history")
    except Exception as exc:  # noqa: BLE001  any malformed field: torch raises many kinds
        text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise CheckpointError(f"{state_path}: field {field}: malformed resume state "
                              f"({type(exc).__name__}: {text}); rerun without --resume") from None
    return history, epoch + 1


def _save_state(net: nn.Module, optimizer: torch.optim.Optimizer, epoch: int,
                history: list[EpochStats], fp: str, state_path: Path) -> None:
    """The per-epoch resume checkpoint (weights, optimizer, history, settings fingerprint),
    sealed with the SHA-256 of that content (:func:`~autosnn.core.checkpoint.seal_state`)."""
    atomic_torch_save(
        seal_state({
            "model": {k: v.detach().cpu() for k, v in net.state_dict().items()},
            "optimizer": optimizer.state_dict(),
            "epoch": epoch,
            "history": json.dumps([asdict(h) for h in history]),
            "fingerprint": fp,
        }),
        state_path,
    )
