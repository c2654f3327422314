"""Execution settings of the default training path: device, precision, layout, allocator.

What was measured on the 2-core CPU these tools are developed on (see ``bench/forward.py``):
time folded into the batch alone gains nothing, because the neuron loops over T either way; the
fused neuron kernel, compiled once for every shape (:func:`autosnn.core.neuron.set_compiled`), plus the
channels_last layout for the convolutions, is what makes the fp32 path fast. bf16 autocast for the
convolutions is a large win only where the hardware has bf16 matrix units (AMX, avx512_bf16,
bf16-capable CUDA GPUs); ``auto`` picks it only there. Neuron state stays fp32 in every mode.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import os
import random
from dataclasses import dataclass

import numpy as np
import torch

from autosnn.core.errors import AutosnnError

PRECISIONS = ("auto", "fp32", "bf16")


@functools.cache
def cpu_has_fast_bf16() -> bool:
    """True when the CPU has bf16 matrix/vector units (AMX-BF16 or AVX512-BF16)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = set()
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        return False
    return bool(flags & {"amx_bf16", "avx512_bf16"})


def local_rank() -> int | None:
    """``LOCAL_RANK`` when ``torchrun`` started this process as one of several, else None."""
    try:
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            return int(os.environ.get("LOCAL_RANK", "0"))
    except ValueError:
        pass
    return None


def resolve_device(device: str | None) -> torch.device:
    """``auto``/None -> CUDA when available, else CPU; anything else must name a usable device.

    Under torchrun (several processes) a bare ``cuda`` (or ``auto`` on a GPU machine) means this
    process's own GPU, ``cuda:LOCAL_RANK``, so ``--nproc-per-node N`` uses N GPUs.
    """
    if device in (None, "", "auto"):
        dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            dev = torch.device(device)
        except RuntimeError:
            raise AutosnnError(f"--device {device!r}: expected cpu, cuda, cuda:N or auto") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise AutosnnError(f"--device {device}: CUDA is not available on this machine")
    rank = local_rank()
    if dev.type == "cuda" and dev.index is None and rank is not None:
        dev = torch.device("cuda", rank % torch.cuda.device_count())
    return dev


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` -> ``bf16`` where the hardware runs it fast, else ``fp32``."""
    if precision not in PRECISIONS:
        raise AutosnnError(f"--precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_has_fast_bf16() else "fp32"


def precision_context(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """Autocast for convolutions/linears in bf16, or nothing for fp32 (neurons run fp32 anyway)."""
    if resolve_precision(precision, device) == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@functools.cache
def tune_allocator() -> bool:
    """Stop glibc from mmapping (and page-faulting) every large activation afresh each step.

    glibc serves allocations above its (at most 32 MB) mmap threshold with fresh mmaps and
    returns them on free, so every training step re-faults its big activations in. Disabling
    mmap for malloc and raising the trim threshold keeps freed memory in the heap for reuse
    (measured ~+30 % per training step here). Returns False where mallopt is unavailable.
    """
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        m_trim_threshold, m_mmap_max = -1, -4
        ok = libc.mallopt(m_mmap_max, 0) == 1
        ok &= libc.mallopt(m_trim_threshold, 1 << 30) == 1
        return bool(ok)
    except (OSError, AttributeError):
        return False


@dataclass(frozen=True)
class ExecConfig:
    """How a network runs: device, resolved precision, memory layout, compiled neurons."""

    device: torch.device
    precision: str
    channels_last: bool
    compiled_neurons: bool

    def autocast(self) -> contextlib.AbstractContextManager:
        return precision_context(self.precision, self.device)

    def describe(self) -> str:
        return (f"{self.device.type} {self.precision}"
                f"{' channels_last' if self.channels_last else ''}"
                f"{' compiled-neuron' if self.compiled_neurons else ''}")


DEFAULT_PRECISION = "fp32"  # bf16 becomes the default only after a measured accuracy comparison


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "1").strip().lower() not in ("0", "false", "no")


def compile_default() -> bool:
    """Compile the neuron kernel unless ``AUTOSNN_COMPILE=0`` (the test suite sets it: compiling
    costs 20-40 s per process, more than a tiny test run takes)."""
    return _env_flag("AUTOSNN_COMPILE")


def channels_last_default() -> bool:
    """channels_last convolutions unless ``AUTOSNN_CHANNELS_LAST=0``.

    The channels_last (oneDNN) CPU kernels block over the batch, so a sample's convolution can
    round differently in a batch of 12 than in a batch of 25; in a spiking network one ulp at
    the threshold flips a spike. NCHW computes each sample the same way whatever the batch, so
    a torchrun run that splits each batch over ranks equals one process exactly in NCHW
    (``tests/test_distributed.py``), and equals it statistically in channels_last.
    """
    return _env_flag("AUTOSNN_CHANNELS_LAST")


def configure(
    device: str | None = "auto",
    precision: str = DEFAULT_PRECISION,
    *,
    compile_neurons: bool | None = None,
    channels_last: bool | None = None,
) -> ExecConfig:
    """Set up the default training path once per process and return what was chosen
    (``None``: the environment's default, see :func:`compile_default`,
    :func:`channels_last_default`)."""
    from autosnn.core.neuron import set_compiled

    if compile_neurons is None:
        compile_neurons = compile_default()
    if channels_last is None:
        channels_last = channels_last_default()
    dev = resolve_device(device)
    prec = resolve_precision(precision, dev)
    if dev.type == "cpu":
        tune_allocator()
    elif dev.type == "cuda":
        torch.cuda.set_device(dev)  # nccl and the compiled kernels use the current device
    compiled = set_compiled(compile_neurons)
    return ExecConfig(dev, prec, channels_last, compiled)


def prepare_model(model: torch.nn.Module, cfg: ExecConfig) -> torch.nn.Module:
    """Move ``model`` to the configured device and layout."""
    model = model.to(cfg.device)
    if cfg.channels_last:
        # torch's stubs for Module.to omit memory_format, which it accepts (and documents)
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    return model


def prepare_input(x: torch.Tensor, cfg: ExecConfig) -> torch.Tensor:
    """Move a batch to the configured device and layout (4-D static inputs only)."""
    x = x.to(cfg.device, non_blocking=True)
    if cfg.channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (CPU and CUDA) so the same seed gives the same result."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
