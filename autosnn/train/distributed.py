"""Data-parallel training under ``torchrun``: one process per device, DistributedDataParallel.

``torchrun --nproc-per-node N -m autosnn supernet|train ...`` starts N copies of the command; each
reads ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` from the environment and joins one process group
(gloo on CPU, nccl on CUDA). Without those variables (or with ``WORLD_SIZE=1``) nothing here does
anything and training is the single-process code path, bit for bit.

How the ranks stay one training run:

- **Same global batch.** Every rank draws the *whole* global mini-batch (same shuffle and
  augmentation seed) and keeps its contiguous slice (:func:`shard`). The loss of a slice is
  scaled by ``world * n_local / n_global`` so that DDP's gradient *average* equals the gradient
  of the single-process loss over the whole batch, also for an uneven last batch.
- **Same path.** The super-network's path sampler is seeded by ``(seed, epoch)`` alone, so every
  rank runs the same path at every step; the parameters of the blocks not taken are unused on
  *every* rank, which DDP handles with ``find_unused_parameters=True`` (their gradients stay
  ``None`` and Adam skips them, as in one process).
- **Batch norm.** By default each rank normalises over its own slice (DDP's usual behaviour;
  running statistics are rank 0's, broadcast before every forward). ``--sync-bn`` normalises
  over the global batch instead (:class:`CrossRankBatchNorm2d`), which is what makes a run on N
  processes compute what one process computes. torch's ``nn.SyncBatchNorm`` is refused by DDP
  on CPU modules, hence our own: statistics gathered with an autograd-aware ``all_gather``.
- **One writer.** Only rank 0 writes checkpoints and outputs; on ``--resume`` rank 0 reads the
  state and broadcasts it, so other nodes need not see rank 0's file system.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import Tensor, nn

T = TypeVar("T")


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the run (``world == 1``: not distributed)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def env_info() -> DistInfo:
    """What ``torchrun`` put in the environment (RANK, WORLD_SIZE, LOCAL_RANK)."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
    except ValueError:
        return DistInfo()
    return DistInfo(rank, world, local) if world > 1 else DistInfo()


def info() -> DistInfo:
    """The current process group's rank and size, or ``DistInfo()`` when none is set up."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return DistInfo(dist.get_rank(), dist.get_world_size(), env_info().local_rank)
    return DistInfo()


def is_main() -> bool:
    """True on rank 0 and in a single process: the only process that writes files."""
    return info().is_main


def init(device: torch.device) -> DistInfo:
    """Join the process group ``torchrun`` describes (once per process); no-op otherwise.

    gloo for CPU devices, nccl for CUDA. Returns this process's :class:`DistInfo`.
    """
    env = env_info()
    if not env.enabled or not dist.is_available():
        return DistInfo()
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        kwargs: dict[str, Any] = {"backend": backend, "timeout": timedelta(minutes=60)}
        if device.type == "cuda":
            kwargs["device_id"] = device
        dist.init_process_group(**kwargs)
        atexit.register(_shutdown)
    return info()


def _shutdown() -> None:
    """Leave the process group at exit (torch warns about, and nccl may leak, one left open)."""
    if dist.is_initialized():
        dist.destroy_process_group()


def finish(*, succeeded: bool) -> None:
    """End the process group together: every rank waits for the others, then leaves.

    Without the wait, rank 0 could tear its gloo pairs down while another rank was still
    leaving; that rank's gloo thread then died with ``terminate called without an active
    exception`` (SIGABRT: a CI run of ``tests/test_distributed.py``, 1 in 10 here). After a failure
    the others may never arrive, so the wait is skipped and the group simply destroyed.
    """
    if not dist.is_available() or not dist.is_initialized():
        return
    if succeeded and dist.get_world_size() > 1:
        if dist.get_backend() == "gloo":
            dist.monitored_barrier(timeout=timedelta(minutes=5), wait_all_ranks=True)
        else:
            dist.barrier()
    _shutdown()


def barrier() -> None:
    """Wait for every rank (no-op in one process)."""
    if info().enabled:
        dist.barrier()


def broadcast_from_main(compute: Callable[[], T]) -> T:
    """Run ``compute`` on rank 0 only and hand its result (or its exception) to every rank.

    Used for what one process must decide for all, e.g. reading the resume checkpoint: an error
    on rank 0 is raised on every rank instead of leaving the others waiting.
    """
    if not info().enabled:
        return compute()
    box: list[Any] = [None]
    if info().is_main:
        try:
            box[0] = ("ok", compute())
        except Exception as exc:  # re-raised below, on every rank
            box[0] = ("error", exc)
    dist.broadcast_object_list(box, src=0)
    kind, value = box[0]
    if kind == "error":
        raise value
    return value


def all_reduce_sum(values: list[float]) -> list[float]:
    """Element-wise sum of ``values`` over the ranks (float64)."""
    if not info().enabled:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t)
    return t.cpu().tolist()


def shard(x: Tensor, y: Tensor, rank: int, world: int) -> tuple[Tensor, Tensor] | None:
    """This rank's contiguous slice of a global batch (inputs may be ``(T, N, ...)`` events).

    Slices differ by at most one sample. None when the batch has fewer samples than ranks: a
    slice would be empty, so every rank skips that (last, short) batch alike.
    """
    n = y.shape[0]
    if world == 1:
        return x, y
    if n < world:
        return None
    bounds = [n * r // world for r in range(world + 1)]
    lo, hi = bounds[rank], bounds[rank + 1]
    batch_dim = 1 if x.dim() == 5 else 0
    return x.narrow(batch_dim, lo, hi - lo), y[lo:hi]


class _GatherRows(torch.autograd.Function):
    """``all_gather`` of one row per rank -> ``(world, ...)``, differentiable: the gradient of
    this rank's row is the sum over ranks of their gradients for it (an ``all_reduce`` of the
    whole gradient, which gloo and nccl both have, then this rank's row)."""

    @staticmethod
    def forward(ctx: Any, row: Tensor) -> Tensor:
        row = row.contiguous()
        rows = [torch.empty_like(row) for _ in range(dist.get_world_size())]
        dist.all_gather(rows, row)
        return torch.stack(rows)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        return grad[dist.get_rank()]


class CrossRankBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training-mode statistics cover the whole global batch (all ranks).

    Each rank computes the mean and biased variance of its slice; they are gathered with
    autograd (so the backward pass is exact too) and combined as parallel Welford does:
    ``mean = sum n_r m_r / n`` and ``var = sum n_r (v_r + (m_r - mean)^2) / n``. Running
    statistics follow ``nn.BatchNorm2d`` (unbiased variance, ``momentum`` or cumulative when
    None), computed from the global figures so they are identical on every rank. In eval mode,
    or outside a process group, it is a plain BatchNorm2d; its state dict is BatchNorm2d's.
    """

    def forward(self, x: Tensor) -> Tensor:
        if not (self.training and info().enabled):
            return super().forward(x)
        c = x.shape[1]
        xf = x.float()
        n_local = x.numel() // c
        dims = [0, 2, 3]
        mean_r = xf.mean(dims) if n_local else xf.new_zeros(c)
        var_r = xf.var(dims, unbiased=False) if n_local else xf.new_zeros(c)
        count = xf.new_full((1,), float(n_local))
        stats = torch.cat([mean_r, var_r, count])  # (2C + 1,)
        gathered = _GatherRows.apply(stats)  # (world, 2C + 1)
        means, variances, counts = gathered[:, :c], gathered[:, c:2 * c], gathered[:, 2 * c:]
        n = counts.sum()
        mean = (counts * means).sum(0) / n
        var = (counts * (variances + (means - mean) ** 2)).sum(0) / n
        if self.track_running_stats and self.running_mean is not None:
            tracked, running_var = self.num_batches_tracked, self.running_var
            if tracked is None or running_var is None:  # registered with running_mean (narrows)
                raise AttributeError("BatchNorm has running_mean but no num_batches_tracked "
                                     "or running_var")
            with torch.no_grad():
                tracked.add_(1)
                m = 1.0 / float(tracked) if self.momentum is None else self.momentum
                unbiased = var * (n / (n - 1).clamp(min=1))
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                running_var.mul_(1 - m).add_(unbiased.detach(), alpha=m)
        shape = (1, c, 1, 1)
        out = (xf - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out.to(x.dtype)


def convert_batchnorm(module: nn.Module) -> nn.Module:
    """Turn every ``nn.BatchNorm2d`` in ``module`` into :class:`CrossRankBatchNorm2d` in place,
    keeping its parameters and buffers (the same tensors, so optimisers stay valid)."""
    for m in module.modules():
        if type(m) is nn.BatchNorm2d:
            m.__class__ = CrossRankBatchNorm2d
    return module


def restore_batchnorm(module: nn.Module) -> nn.Module:
    """Undo :func:`convert_batchnorm` (the trained network is handed back with plain BN)."""
    for m in module.modules():
        if type(m) is CrossRankBatchNorm2d:
            plain: nn.Module = m  # typed as a Module: the check above narrowed ``m`` to the subclass
            plain.__class__ = nn.BatchNorm2d
    return module


def wrap(net: nn.Module, *, find_unused: bool) -> nn.Module:
    """``DistributedDataParallel(net)`` inside a process group, ``net`` itself otherwise.

    ``find_unused``: a super-network runs one path per step, so the other blocks' parameters get
    no gradient; DDP must look for them each step (the same set on every rank, since every rank
    samples the same path).
    """
    if not info().enabled:
        return net
    device = next(net.parameters()).device
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(
        net, device_ids=ids, find_unused_parameters=find_unused,
    )

