"""Check an export against the PyTorch model: spike-for-spike over T steps on random inputs.

:func:`randomise` gives a network non-trivial BN statistics, PLIF time constants and head weights
(an untrained network barely spikes, which would make any comparison vacuous);
:func:`compare_nir` runs the model (eval mode) and the exported graph in our executor and reports
the spike mismatch rate, per layer, and whether every first mismatch is a near-tie (a membrane value
within ``tie_tol`` of the threshold, where folding BN changes float rounding).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from autosnn.core.network import SpikingNet
from autosnn.core.neuron import PLIF, V_TH
from exporters.interop import model_run
from exporters.nir_export import to_nir
from exporters.nir_run import NIRModule


def randomise(net: SpikingNet, seed: int = 0) -> SpikingNet:
    """Random BN statistics/affine, PLIF ``w`` and stronger head weights; returns ``net.eval()``."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                if m.running_mean is None or m.running_var is None:  # what .copy_ would raise
                    raise AttributeError("randomise: BatchNorm2d without running statistics "
                                         "(track_running_stats=False) is not supported")
                m.running_mean.copy_(torch.randn(c, generator=g) * 0.3)
                m.running_var.copy_(torch.rand(c, generator=g) * 1.5 + 0.3)
                m.weight.copy_(torch.rand(c, generator=g) + 0.5)
                m.bias.copy_(torch.randn(c, generator=g) * 0.5 + 0.7)
            elif isinstance(m, PLIF):
                m.w.fill_(float(torch.randn((), generator=g)) + 1.0)
            elif isinstance(m, nn.Linear):
                m.weight.mul_(4.0)
    return net.eval()


def random_input(net: SpikingNet, n: int, seed: int = 0) -> Tensor:
    """Static (N, C, H, W) uniform [0, 2) for image inputs; (T, N, C, H, W) events for 2-channel
    inputs (DVS / N-MNIST style, Bernoulli 0.3)."""
    g = torch.Generator().manual_seed(seed)
    shape = tuple(net.config.input_shape)
    if shape[0] == 2:
        return (torch.rand(net.timesteps, n, *shape, generator=g) < 0.3).float()
    return torch.rand(n, *shape, generator=g) * 2.0


@dataclass
class SpikeCheck:
    """Result of :func:`compare_nir`."""

    mismatch_rate: float  # differing spike values / all spike values (every layer, t, n, neuron)
    per_layer: dict[str, float] = field(default_factory=dict)
    near_ties_only: bool = True  # every first-mismatching layer's mismatches are near-ties
    output_max_abs_diff: float = 0.0  # firing rates (N, classes)
    spikes_compared: int = 0
    mean_rate: float = 0.0  # mean firing rate over all layers (to see the test is not vacuous)


def compare_nir(
    net: SpikingNet,
    x: Tensor,
    *,
    threshold: str = "strict",
    tie_tol: float = 1e-4,
    geq_threshold: bool = False,
) -> SpikeCheck:
    """Model (eval) vs exported NIR graph in our executor, spike by spike."""
    net.eval()
    ref = model_run(net, x)
    T = net.timesteps if x.dim() == 4 else None
    graph = to_nir(net, geq_threshold=geq_threshold)
    res = NIRModule(graph, threshold=threshold).run(x, T, record=True)
    per_layer: dict[str, float] = {}
    diff = total = 0
    ties_only = True
    upstream_clean = True
    rate_sum = 0.0
    for name, _ in net.active_spiking_layers():
        a = ref.spikes[name]
        b = res.spikes[name].reshape(a.shape)
        bad = a != b
        per_layer[name] = float(bad.float().mean())
        diff += int(bad.sum())
        total += a.numel()
        rate_sum += float(a.float().mean())
        if bad.any() and upstream_clean:
            pot = res.potentials.get(name)
            if pot is None or not bool(((pot.reshape(a.shape)[bad] - V_TH).abs() < tie_tol).all()):
                ties_only = False
        if bad.any():
            upstream_clean = False
    rates = res.output.mean(0)
    out_diff = float((rates - ref.output.mean(0)).abs().max())
    return SpikeCheck(
        diff / max(total, 1), per_layer, ties_only, out_diff, total,
        rate_sum / max(len(per_layer), 1),
    )


# -- every installed consumer of a written file vs the PyTorch model ---------------------------


@dataclass
class ConsumerCheck:
    """One consumer's run of an exported file against the PyTorch model on the same input."""

    consumer: str
    class_agreement: float = float("nan")  # same argmax class as PyTorch, fraction of samples
    cosine: dict[str, float] = field(default_factory=dict)  # per spiking layer
    mismatch: dict[str, float] = field(default_factory=dict)  # per-layer spike mismatch rate
    skipped: str = ""  # why it did not run (not installed), empty when it ran
    threshold: float = 0.99  # class agreement it must reach
    note: str = ""  # one more figure worth printing

    @property
    def passed(self) -> bool:
        return bool(self.skipped) or self.class_agreement >= self.threshold


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _from_agreement(name: str, a, threshold: float) -> ConsumerCheck:
    return ConsumerCheck(name, a.class_agreement, dict(a.cosine), {}, "", threshold)


def check_nir_file(net: SpikingNet, path, x: Tensor) -> list[ConsumerCheck]:
    """Our executor, spikingjelly (``import_from_nir``) and norse (norse's node mapping wired
    in topological order) on the written ``.nir`` file."""
    from exporters.interop import agreement, run_norse, run_reference, run_spikingjelly
    from exporters.nir_export import read_nir

    graph = read_nir(path)
    T = net.timesteps if x.dim() == 4 else None
    ref = model_run(net, x)
    out = [_from_agreement("executor", agreement(ref, run_reference(graph, x, T)), 0.99)]
    if _installed("spikingjelly"):
        out.append(_from_agreement("spikingjelly", agreement(ref, run_spikingjelly(graph, x, T)),
                                   0.99))
    else:
        out.append(ConsumerCheck("spikingjelly", skipped="not installed"))
    if _installed("norse"):
        run = run_norse(graph, x, T, loader="nir_to_torch")
        out.append(_from_agreement("norse", agreement(ref, run), 0.99))
    else:
        out.append(ConsumerCheck("norse", skipped="not installed"))
    return out


def check_onnx_file(net: SpikingNet, path, x: Tensor) -> list[ConsumerCheck]:
    """onnxruntime on the written step graph (class agreement of the firing rates)."""
    if not _installed("onnxruntime"):
        return [ConsumerCheck("onnxruntime", skipped="not installed")]
    from exporters.onnx_export import run_onnx

    with torch.no_grad():
        want = net(x).numpy()
    got, _ = run_onnx(path, x)
    same = float((got.argmax(-1) == want.argmax(-1)).mean())
    return [ConsumerCheck("onnxruntime", same, {}, {}, "", 0.99)]


LAVA_AGREEMENT = 0.95  # fixed point (8-bit weights): statistical, not spike-exact, agreement


def check_lava_file(net: SpikingNet, path, x: Tensor) -> list[ConsumerCheck]:
    """Lava ``Loihi2SimCfg(select_tag="fixed_pt")`` on the written netx / process-graph file."""
    from exporters.lava_compat import lava_available

    if not lava_available():
        return [ConsumerCheck("lava", skipped="not installed (make loihi)",
                              threshold=LAVA_AGREEMENT)]
    from exporters.lava_run import compare_lava

    rep = compare_lava(net, x, path)
    note = (f"{100 * rep['decisive_agreement']:.1f}% on the {100 * rep['decisive_fraction']:.0f}% "
            "of inputs PyTorch decides by more than one output spike")
    return [ConsumerCheck("lava", rep["class_agreement"],
                          {k: v["cosine"] for k, v in rep["layers"].items()},
                          {k: v["mismatch"] for k, v in rep["layers"].items()}, "",
                          LAVA_AGREEMENT, note)]
