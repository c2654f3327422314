"""autosnn ``speck`` space network -> SynSense Speck through sinabs (``pip install 'autosnn[speck]'``).

Not through NIR: sinabs's ``from_nir`` does not read our files (NIR version, per-neuron leak,
bias-free Linear), and NIR has no spike merge. We build the sinabs network from our layers:

- each conv-BN becomes an ``nn.Conv2d`` with the BN folded into weight and bias; each IF neuron a
  ``sinabs.layers.IAFSqueeze`` (``SingleSpike``: fire at ``v >= 1``; ``MembraneReset`` or
  ``MembraneSubtract`` as the neuron resets; ``min_v_mem`` placed where the chip's 16-bit floor
  lands after discretisation, so it binds only where the chip's state would saturate);
- ``SumPool`` -> ``sinabs.layers.SumPool2d``; the spike-merge residual -> ``sinabs.layers.Merge``;
- the head's Linear (bias-free) -> ``nn.Linear``, which sinabs turns into a full-size conv; the
  voting (mean of each group of 10 output neurons over T) stays on the host.

Then ``DynapcnnNetwork(net, input_shape=..., discretize=True)`` (8-bit weights and biases, 16-bit
thresholds), ``memory_summary()`` and ``ChipFactory("speck2fmodule").get_config_builder()
.map_layers_to_cores(...)`` check the chip's rules and place one layer per core. The file written
(JSON, ``autosnn-speck/1``) holds the layer -> core map, each layer's destinations, memory per
core against its capacity and the discretised integer parameters. Where a real samna is importable
``make_config(device="speck2fmodule")``'s configuration is written beside it
(``<name>.samna.json``); otherwise the file says why not (:data:`speck_compat.NO_SAMNA`).

The input is presented as in PyTorch: the static image at every timestep (the stem conv sees real
values, as in sinabs's simulation; on the chip the input must arrive as events), T steps folded
into the batch (``IAFSqueeze(num_timesteps=T)``); the bias is added every timestep (sinabs's
simulation; on the chip the bias is applied per slow-clock tick, which must be set to the step).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from autosnn.core.blocks import ConvBN
from autosnn.core.layers import Cell, Head, Stem
from autosnn.core.lowering import fold_bn
from autosnn.core.network import SpikingNet
from autosnn.core.speck import IF, SpeckSCB, SpeckSkip, SpeckSRB, SumPool
from autosnn.core.speck_quant import SpeckDiscretised
from autosnn.core.stats import wilson
from exporters.base import ExportError, layer_error
from exporters.speck_compat import NO_SAMNA, install, real_samna
from safeio import atomic_path

TARGET = "Speck"
DEVICE = "speck2fmodule"
FORMAT = "autosnn-speck/1"
STATE_BITS = 16
SPECK_AGREEMENT = 0.99
VERIFY_CHUNK = 64


def _sinabs() -> Any:
    install()
    try:
        import sinabs.layers as sl
    except ImportError as exc:
        raise ExportError("--to speck needs sinabs: pip install 'autosnn[speck]' (see "
                          "docs/exporters.md: sinabs is installed with --no-deps)") from exc
    return sl


def _conv(m: ConvBN) -> nn.Conv2d:
    """The conv with its BN folded in (weight and bias), eval-mode statistics."""
    w, b = fold_bn(m.conv.weight, m.bn, m.conv.bias)
    k = m.conv.kernel_size[0]
    conv = nn.Conv2d(w.shape[1], w.shape[0], k, m.conv.stride[0], k // 2, bias=True)
    with torch.no_grad():
        conv.weight.copy_(w)
        conv.bias = nn.Parameter(b)
    return conv


def _min_v_mem(conv: nn.Conv2d | nn.Linear) -> float:
    """The float membrane floor that sinabs discretises onto the chip's -(2^15 - 1): with it the
    thresholds' scale equals the weights' 8-bit scale, so the floor never coarsens the weights
    (sinabs's default floor, -2^15 in float units, would scale weights of ~0.1 to zero)."""
    from sinabs.backend.dynapcnn.discretize import determine_discretization_scale

    w = conv.weight.detach()
    b = conv.bias.detach() if conv.bias is not None else torch.zeros(1)
    scale = min(float(determine_discretization_scale(w, 8)),
                float(determine_discretization_scale(b, 8)) if b.abs().max() > 0 else math.inf)
    return -(2 ** (STATE_BITS - 1) - 1) / scale


class SpeckProgram(nn.Module):
    """The sinabs network: named modules run in a fixed order of ``(out, op, inputs)`` steps on
    time-folded ``(N*T, ...)`` tensors (what sinabs's graph extractor traces)."""

    def __init__(self, mods: dict[str, nn.Module], steps: list[tuple[str, str, tuple[str, ...]]],
                 out: str) -> None:
        super().__init__()
        self.mods = nn.ModuleDict(mods)
        self.steps = steps
        self.out = out

    def forward(self, x: Tensor) -> Tensor:
        vals = {"input": x}
        for dst, op, srcs in self.steps:
            vals[dst] = self.mods[op](*(vals[s] for s in srcs))
        return vals[self.out]


@dataclass
class SpeckBuild:
    """The sinabs network of a ``SpikingNet`` and the names of its spiking layers, in order."""

    program: SpeckProgram
    layer_names: list[str]
    timesteps: int
    input_shape: tuple[int, int, int]
    num_classes: int


class _Program:
    """The sinabs modules and steps of a network under construction (names with '.' -> '__')."""

    def __init__(self, T: int) -> None:
        self.sl = _sinabs()
        self.T = T
        self.mods: dict[str, nn.Module] = {}
        self.steps: list[tuple[str, str, tuple[str, ...]]] = []
        self.spiking: list[str] = []

    def add(self, name: str, module: nn.Module, srcs: tuple[str, ...]) -> str:
        k = name.replace(".", "__")
        self.mods[k] = module
        self.steps.append((k, k, srcs))
        return k

    def neuron(self, name: str, m: nn.Module, src: str, conv: nn.Conv2d | nn.Linear) -> str:
        from sinabs.activation import MembraneReset, MembraneSubtract, SingleSpike

        if not isinstance(m, IF):
            raise layer_error(name, TARGET, f"{type(m).__name__} is not Speck's IF neuron "
                              "(no leak; build the network in the speck space)")
        reset = MembraneReset() if m.reset == "zero" else MembraneSubtract()
        iaf = self.sl.IAFSqueeze(num_timesteps=self.T, spike_threshold=1.0,
                                 spike_fn=SingleSpike, reset_fn=reset,
                                 min_v_mem=_min_v_mem(conv))
        self.spiking.append(name)
        return self.add(name, iaf, (src,))

    def conv_neuron(self, name: str, cbn: ConvBN, lif: nn.Module,
                    src: str | tuple[str, ...]) -> str:
        conv = _conv(cbn)
        srcs = (src,) if isinstance(src, str) else src
        if len(srcs) > 1:
            srcs = (self.add(f"{name}.merge", self.sl.Merge(), srcs),)
        c = self.add(f"{name}.conv", conv, srcs)
        return self.neuron(f"{name}.lif", lif, c, conv)

    def block(self, name: str, layer: Cell, x: str) -> str:
        """One searched slot: a skip (maybe a reducing conv), an SCB or an SRB."""
        block = layer.ops[layer.active]
        name = f"{name}.ops.{layer.active}"
        if isinstance(block, SpeckSkip):
            if block.reduce is not None and block.lif is not None:
                x = self.conv_neuron(name, block.reduce, block.lif, x)
                self.spiking[-1] = f"{name}.lif"
            return x
        if isinstance(block, SpeckSCB | SpeckSRB) and block.conv1.conv.stride[0] != 1:
            raise layer_error(name, TARGET, "strided blocks are not in the speck space")
        if isinstance(block, SpeckSCB):
            hh = self.conv_neuron(f"{name}.1", block.conv1, block.lif1, x)
            x = self.conv_neuron(f"{name}.2", block.conv2, block.lif2, hh)
        elif isinstance(block, SpeckSRB):
            hh = self.conv_neuron(f"{name}.1", block.conv1, block.lif1, x)
            x = self.conv_neuron(f"{name}.2", block.conv2, block.lif2,
                                 (x, hh) if block.merge else hh)
        else:
            raise layer_error(name, TARGET, f"block {layer.active!r} is not a Speck block "
                              "(speck_skip, speck_SCB_k*, speck_SRB_k*)")
        self.spiking[-2:] = [f"{name}.lif1", f"{name}.lif2"]
        return x


def speck_network(net: SpikingNet) -> SpeckBuild:
    """Translate a ``speck`` space network (eval-mode BN folded) into sinabs modules; anything
    Speck cannot run raises :class:`ExportError` naming the layer."""
    cfg = net.config
    T = int(cfg.timesteps)
    cin, h, w = (int(v) for v in cfg.input_shape)
    if (h, w) != (32, 32):
        raise ExportError(f"--to speck: input {cin}x{h}x{w}: expected Cx32x32 (the speck space)")
    prog = _Program(T)
    stem = net.stem
    if not isinstance(stem, Stem) or stem.crop or len(stem.extra):
        raise ExportError("--to speck: the stem must be conv3x3 + IF on a 32x32 input")
    conv = _conv(stem.conv)
    x = prog.neuron("stem.lif", stem.lif, prog.add("stem.conv", conv, ("input",)), conv)
    for i, layer in enumerate(net.body):
        name = f"body.{i}"
        if isinstance(layer, Cell):
            x = prog.block(name, layer, x)
        elif isinstance(layer, SumPool):
            x = prog.add(name, prog.sl.SumPool2d(layer.kernel), (x,))
        else:
            raise layer_error(name, TARGET, f"{type(layer).__name__}: Speck pools only by "
                              "square sum-pooling (build the network in the speck space)")
    head = net.head
    if not isinstance(head, Head) or len(head.fcs) != 1:
        raise ExportError("--to speck: the head must be one Linear + IF (the speck space's)")
    fc = head.fcs[0]
    assert isinstance(fc, nn.Linear)
    lin = nn.Linear(fc.in_features, fc.out_features, bias=False)
    with torch.no_grad():
        lin.weight.copy_(fc.weight.detach())
    x = prog.add("head.flatten", nn.Flatten(), (x,))
    x = prog.add("head.fcs.0", lin, (x,))
    x = prog.neuron("head.lifs.0", head.lifs[0], x, lin)
    return SpeckBuild(SpeckProgram(prog.mods, prog.steps, x), prog.spiking, T, (cin, h, w),
                      head.num_classes)


def to_dynapcnn(build: SpeckBuild, *, discretize: bool = True) -> Any:
    """``DynapcnnNetwork`` of the sinabs network (sinabs checks Speck's layer rules here)."""
    install()
    import copy

    from sinabs.backend.dynapcnn import DynapcnnNetwork

    try:
        return DynapcnnNetwork(copy.deepcopy(build.program), input_shape=build.input_shape,
                               discretize=discretize)
    except ExportError:
        raise
    except Exception as exc:
        raise ExportError(f"--to speck: sinabs refused the network: "
                          f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}") from exc


def map_cores(dn: Any) -> dict[int, int]:
    """sinabs's layer -> core assignment for Speck 2f (bipartite matching on core memory)."""
    install()
    from sinabs.backend.dynapcnn.chip_factory import ChipFactory

    builder = ChipFactory(DEVICE).get_config_builder()
    try:
        mapping = builder.map_layers_to_cores(dn.dynapcnn_layers)
    except Exception as exc:
        raise ExportError(f"--to speck: no layer -> core mapping onto Speck: "
                          f"{str(exc).splitlines()[0][:300]}") from exc
    return {int(k): int(v) for k, v in mapping.items()}


def _int_list(t: Tensor) -> Any:
    return torch.round(t.detach().double()).long().tolist()


def speck_report(net: SpikingNet) -> tuple[dict[str, Any], Any]:
    """The export document (map, memory, destinations, discretised parameters) and the
    discretised ``DynapcnnNetwork``."""
    _sinabs()
    from sinabs.backend.dynapcnn.chip_factory import ChipFactory

    build = speck_network(net)
    dn = to_dynapcnn(build)
    core_of = map_cores(dn)
    memory = dn.memory_summary()
    constraints = ChipFactory(DEVICE).get_config_builder().get_constraints()
    layers = []
    order = sorted(dn.dynapcnn_layers)
    if len(order) != len(build.layer_names):
        raise ExportError(f"--to speck: sinabs made {len(order)} layers of "
                          f"{len(build.layer_names)} spiking layers")
    for idx, name in zip(order, build.layer_names):
        lay = dn.dynapcnn_layers[idx]
        spk = lay.spk_layer
        layers.append({
            "index": idx, "name": name, "core": core_of[idx],
            "destinations": [int(d) for d in dn.layer_destination_map.get(idx, [])],
            "pool": [int(p) if not isinstance(p, (list, tuple)) else int(p[0])
                     for p in lay.pool],
            "memory": {k: int(memory[k][idx]) for k in ("kernel", "neuron", "bias")},
            "kernel_shape": list(lay.conv_layer.weight.shape),
            "weight": _int_list(lay.conv_layer.weight),
            "bias": None if lay.conv_layer.bias is None else _int_list(lay.conv_layer.bias),
            "threshold": int(round(float(spk.spike_threshold))),
            "min_v_mem": int(round(float(spk.min_v_mem))),
            "reset": type(spk.reset_fn).__name__,
        })
    cores = {}
    for lay in layers:
        c = constraints[lay["core"]]
        cores[str(lay["core"])] = {
            "layer": lay["name"],
            "kernel": [lay["memory"]["kernel"], c.kernel_memory],
            "neuron": [lay["memory"]["neuron"], c.neuron_memory],
            "bias": [lay["memory"]["bias"], c.bias_memory],
        }
    doc = {
        "format": FORMAT, "producer": "autosnn", "device": DEVICE,
        "config": json.loads(net.config.to_json()),
        "timesteps": build.timesteps, "input_shape": list(build.input_shape),
        "readout": "votes: output neurons in groups of 10 per class, mean over the group and T",
        "layer_to_core": {lay["name"]: lay["core"] for lay in layers},
        "memory_per_core": cores,
        "memory_note": "[used, capacity] words per core (sinabs memory_summary / get_constraints)",
        "layers": layers,
    }
    return doc, dn


def export_speck(
    net: SpikingNet,
    path: str | Path,
    *,
    preprocess: dict[str, Any] | None = None,
    inputs: Sequence[str | Path] = (),
) -> Path:
    """Write the Speck export document to ``path`` (and samna's configuration beside it where a
    real samna is installed); returns ``path``."""
    path = Path(path)
    doc, dn = speck_report(net)
    doc["preprocess"] = preprocess
    samna_path = path.with_name(path.stem + ".samna.json")
    if real_samna():  # pragma: no cover - needs SynSense's samna
        cfg = dn.make_config(device=DEVICE)
        text = cfg.to_json() if hasattr(cfg, "to_json") else repr(cfg)
        with atomic_path(samna_path, inputs=inputs) as tmp:
            tmp.write_text(text)
        doc["samna_config"] = samna_path.name
    else:
        doc["samna_config"] = None
        doc["samna_note"] = NO_SAMNA
    with atomic_path(path, inputs=inputs) as tmp:
        tmp.write_text(json.dumps(doc, indent=1))
    return path


# -- verification -------------------------------------------------------------------------------


def run_dynapcnn(dn: Any, x: Tensor, T: int, num_classes: int
                 ) -> tuple[Tensor, dict[int, Tensor]]:
    """Run a (discretised) ``DynapcnnNetwork`` on static input presented every step (N, C, H, W)
    or events (T, N, C, H, W). Returns firing rates (N, classes) and each layer's output to its
    first destination (after that destination's pooling), ``(T, N, ...)``, by layer index."""
    import sinabs.layers as sl

    if x.dim() == 4:
        n = x.shape[0]
        folded = x.unsqueeze(1).expand(n, T, *x.shape[1:]).reshape(n * T, *x.shape[1:])
    else:
        n = x.shape[1]
        folded = x.transpose(0, 1).reshape(n * T, *x.shape[2:])
    rates = []
    per_layer: dict[int, list[Tensor]] = {}
    last = max(dn.dynapcnn_layers)
    for start in range(0, n, VERIFY_CHUNK):  # images are independent: chunks bound the memory
        for m in dn.modules():  # DynapcnnNetwork.reset_states fails in sinabs 3.1.3
            if isinstance(m, sl.StatefulLayer):
                m.reset_states()
        stop = min(n, start + VERIFY_CHUNK)
        with torch.no_grad():
            outs = dn(folded[start * T : stop * T].float(), return_complete=True)
        for idx in dn.dynapcnn_layers:
            y = next(iter(outs[idx].values()))
            per_layer.setdefault(idx, []).append(
                y.reshape(stop - start, T, *y.shape[1:]).transpose(0, 1))
        out = next(iter(outs[last].values()))
        rates.append(out.reshape(stop - start, T, num_classes, 10).float().mean(dim=(1, 3)))
    return torch.cat(rates), {k: torch.cat(v, dim=1) for k, v in per_layer.items()}


def _classes(rates: Tensor, T: int) -> Tensor:
    """The class of each image from its integer vote counts (``rates * 10 T``), so that ties
    break alike on both sides (a mean's float rounding would break them at random)."""
    return torch.round(rates.double() * 10 * T).argmax(-1)


def _discretised_run(net: SpikingNet, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    """Our own discretised forward (:class:`SpeckDiscretised`, what ``--quantize speck`` trains):
    firing rates and per-layer spikes ``(T, N, ...)``."""
    q = SpeckDiscretised(net).eval()
    q.keep_spikes = True
    T = net.timesteps if x.dim() == 4 else x.shape[0]
    rates: list[Tensor] = []
    spikes: dict[str, list[Tensor]] = {}
    n = x.shape[0] if x.dim() == 4 else x.shape[1]
    for start in range(0, n, VERIFY_CHUNK):
        chunk = x[start:start + VERIFY_CHUNK] if x.dim() == 4 else x[:, start:start + VERIFY_CHUNK]
        with torch.no_grad():
            rates.append(q(chunk))
        for k, v in q.spikes.items():
            spikes.setdefault(k, []).append(v.reshape(T, -1, *v.shape[1:]))
    return torch.cat(rates), {k: torch.cat(v, dim=1) for k, v in spikes.items()}


def check_speck(net: SpikingNet, path: Path, x: Tensor) -> list[Any]:
    """sinabs's float and discretised networks (what Speck runs) against our model, class
    agreement on ``x`` with a 95 % Wilson interval:

    - float sinabs vs our float forward (the translation; threshold 99 %);
    - discretised sinabs vs our discretised forward (:class:`SpeckDiscretised`, the forward
      ``--quantize speck`` trains: for a QAT model, the model itself; threshold 99 %);
    - discretised sinabs vs our float forward: what the chip's rounding costs a model trained in
      float (informative, no threshold: QAT is how to bring it up)."""
    from exporters.speck_compat import sinabs_available
    from exporters.verify import ConsumerCheck

    if not sinabs_available():
        return [ConsumerCheck("sinabs", skipped="not installed (pip install 'autosnn[speck]')",
                              threshold=SPECK_AGREEMENT)]
    from exporters.interop import cosine, model_run

    net.eval()
    ref = model_run(net, x)  # per-layer spikes (T, N, ...) and votes
    T = ref.output.shape[0]
    float_want = _classes(ref.output.mean(0), T)
    q_rates, q_spikes = _discretised_run(net, x)
    build = speck_network(net)
    runs = (("sinabs float vs float model", False, float_want, ref.spikes, SPECK_AGREEMENT, ""),
            ("sinabs discretised (Speck) vs discretised model (QAT forward)", True,
             _classes(q_rates, T), q_spikes, SPECK_AGREEMENT, ""),
            ("sinabs discretised (Speck) vs float model", True, float_want, ref.spikes, 0.0,
             "informative: the chip's rounding on a float-trained model; "))
    out = []
    dns: dict[bool, Any] = {}
    for label, disc, want, ours_spikes, threshold, note in runs:
        if disc not in dns:
            dn = to_dynapcnn(build, discretize=disc)
            dns[disc] = (dn, *run_dynapcnn(dn, x, build.timesteps, build.num_classes))
        dn, rates, layers = dns[disc]
        got = _classes(rates, T)
        k, n = int((got == want).sum()), int(want.numel())
        lo, hi = wilson(k, n) if n else (0.0, 1.0)
        cos, mismatch = {}, {}
        for idx, name in zip(sorted(dn.dynapcnn_layers), build.layer_names):
            ours = ours_spikes[name].float()
            pool = dn.dynapcnn_layers[idx].pool[0]
            pool = int(pool[0]) if isinstance(pool, (list, tuple)) else int(pool)
            if pool > 1:  # sinabs reports the layer's output after its destination's sum-pool
                pooled = nn.functional.avg_pool2d(ours.flatten(0, 1), pool).mul(pool * pool)
                ours = pooled.reshape(*ours.shape[:2], *pooled.shape[1:])
            theirs = layers[idx].reshape(ours.shape)
            cos[name] = cosine(ours, theirs)
            mismatch[name] = float((ours != theirs).float().mean())
        out.append(ConsumerCheck(label, k / n, cos, mismatch, "", threshold,
                                 f"{note}{k}/{n} images, 95% interval "
                                 f"{100 * lo:.1f}-{100 * hi:.1f}%"))
    return out
