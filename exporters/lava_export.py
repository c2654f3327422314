"""autosnn ``SpikingNet`` -> Lava (Loihi 2), from the network's NIR graph (the one lowering).

The NIR graph (portable primitives) is read into a :class:`~exporters.lava_graph.LavaPlan`
(neuron populations with their synapses, fixed point: see :mod:`exporters.lava_graph`). Then:

- a *chain* (every population fed by exactly the previous one: SCB, SIB, max-pool, stride-1 or
  factorised skips, avg-pool, head) is written as lava-dl **netx HDF5**, the format netx loads for
  Loihi 2 hardware: ``input``, ``conv``, ``flatten``, ``dense`` layers with CUBA neurons
  (``iDecay = 4096``, ``vDecay = dv``, ``vThMant = vth``, 8-bit weights). Conv kernels in torch
  layout, unflipped (netx flips them on load and Lava's conv flips them back);
- any other network (residual blocks: several synapses into one population) is written as an
  **autosnn Lava process graph** HDF5 (``format = autosnn-lava-graph/1``): per population the
  integer neuron parameters, its depth and its synapses (source, integer weights, stride,
  padding, groups), which :func:`~exporters.lava_graph.run_plan` builds from ``Conv``/``Dense`` and
  ``LIFReset`` processes and runs with ``Loihi2SimCfg(select_tag="fixed_pt")``.

In both, the stem (the encoder: real-valued pixels) runs on the host and the Lava network starts at
its spikes; votes are summed on the host from the output population's spikes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from autosnn.core.network import SpikingNet
from exporters.base import ExportError
from exporters.lava_graph import (
    DECAY_UNITY,
    LavaPlan,
    Neuron,
    Synapse,
    plan_from_nir,
    quantise_neuron,
)
from exporters.nir_export import DEFAULT_DT, graph_metadata, to_nir
from safeio import atomic_path

NETX = "netx"
GRAPH_FORMAT = "autosnn-lava-graph/1"


def lava_plan(net: SpikingNet) -> LavaPlan:
    """The Lava plan of ``net`` (through its portable NIR graph)."""
    return plan_from_nir(to_nir(net, compat="portable"))


def _neuron(g: h5py.Group, v_decay: int, v_th: int) -> None:
    n = g.create_group("neuron")
    n.create_dataset("type", data=np.bytes_("CUBA"))
    n.create_dataset("iDecay", data=DECAY_UNITY)
    n.create_dataset("vDecay", data=v_decay)
    n.create_dataset("vThMant", data=v_th)
    n.create_dataset("refDelay", data=1)
    n.create_dataset("gradedSpike", data=False)


def _write_netx(f: h5py.File, plan: LavaPlan) -> None:
    top = f.create_group("layer")
    (in_name, in_shape), = plan.encoder.items()
    g = top.create_group("0")
    g.create_dataset("type", data=np.bytes_("input"))
    g.create_dataset("shape", data=np.array(in_shape))
    idx = 1
    flattened = False
    for n in plan.neurons.values():
        (s,) = n.synapses
        q = quantise_neuron(n)
        if s.kind == "dense" and not flattened and len(s.in_shape) > 1:
            top.create_group(str(idx)).create_dataset("type", data=np.bytes_("flatten"))
            idx += 1
            flattened = True
        g = top.create_group(str(idx))
        idx += 1
        g.attrs["name"] = n.name
        g.create_dataset("type", data=np.bytes_(s.kind))
        g.create_dataset("shape", data=np.array(n.shape))
        g.create_dataset("weight", data=q["weights"][0])
        if s.kind == "conv":
            g.create_dataset("stride", data=np.array([s.stride, s.stride]))
            g.create_dataset("padding", data=np.array([s.padding, s.padding]))
            g.create_dataset("dilation", data=np.array([1, 1]))
            g.create_dataset("groups", data=s.groups)
        if s.bias is not None:  # netx bias units: before Lava's 6-bit shift
            g.create_dataset("bias", data=np.round(q["bias_mant"] * 2.0 ** q["bias_exp"] / 64)
                             .astype(np.int32))
        _neuron(g, q["dv"], q["vth"])
    f.attrs["layer_names"] = ",".join(plan.neurons)
    f.attrs["input"] = f"spikes of {in_name} (C, H, W), computed by the host encoder"


def _write_graph(f: h5py.File, plan: LavaPlan) -> None:
    f.attrs["encoder"] = json.dumps({k: list(v) for k, v in plan.encoder.items()})
    f.attrs["readout_src"] = plan.readout_src
    f.create_dataset("readout_weight", data=plan.readout_weight.astype(np.float32))
    top = f.create_group("populations")
    for i, n in enumerate(plan.neurons.values()):
        q = quantise_neuron(n)
        g = top.create_group(str(i))
        g.attrs.update({"name": n.name, "shape": list(n.shape), "depth": n.depth,
                        "relay": n.relay, "dv": q["dv"], "vth": q["vth"],
                        "bias_exp": q["bias_exp"], "decay": n.decay, "gain": n.gain,
                        "threshold": n.threshold})
        g.create_dataset("bias_mant", data=q["bias_mant"])
        for j, (s, w) in enumerate(zip(n.synapses, q["weights"])):
            sg = g.create_group(f"synapse{j}")
            sg.attrs.update({"name": s.name, "src": s.src, "kind": s.kind,
                             "in_shape": list(s.in_shape), "stride": s.stride,
                             "padding": s.padding, "groups": s.groups})
            sg.create_dataset("weight", data=w)


def read_lava_graph(path: str | Path) -> LavaPlan:
    """Load an ``autosnn-lava-graph`` file back into a plan whose populations carry their
    integer parameters (``Neuron.fixed``), exactly as written."""
    path = Path(path)
    with h5py.File(path, "r") as f:
        if f.attrs.get("format") != GRAPH_FORMAT:
            raise ExportError(f"{path}: field format: expected {GRAPH_FORMAT!r}")
        encoder = {k: tuple(v) for k, v in json.loads(f.attrs["encoder"]).items()}
        neurons: dict[str, Neuron] = {}
        pops = f["populations"]
        for i in range(len(pops)):
            g = pops[str(i)]
            a = g.attrs
            syns = []
            weights = []
            for j in range(len([k for k in g if k.startswith("synapse")])):
                sg = g[f"synapse{j}"]
                sa = sg.attrs
                w = sg["weight"][()]
                weights.append(w)
                syns.append(Synapse(str(sa["name"]), str(sa["src"]), str(sa["kind"]),
                                    w.astype(np.float64), None,
                                    tuple(int(v) for v in sa["in_shape"]), int(sa["stride"]),
                                    int(sa["padding"]), int(sa["groups"])))
            n = Neuron(str(a["name"]), tuple(int(v) for v in a["shape"]), float(a["decay"]),
                       float(a["gain"]), float(a["threshold"]), syns, int(a["depth"]),
                       bool(a["relay"]))
            n.fixed = {"weights": weights, "bias_mant": g["bias_mant"][()],
                       "bias_exp": int(a["bias_exp"]), "dv": int(a["dv"]), "vth": int(a["vth"])}
            neurons[n.name] = n
        return LavaPlan(encoder, neurons, str(f.attrs["readout_src"]), f["readout_weight"][()])


def export_lava(
    net: SpikingNet,
    path: str | Path,
    *,
    preprocess: dict[str, Any] | None = None,
    inputs: Sequence[str | Path] = (),
) -> Path:
    """Write ``net`` for Lava: netx HDF5 for a chain, else the autosnn Lava process graph
    (module docstring). Written to a temp file and renamed into place."""
    plan = lava_plan(net)
    meta = graph_metadata(net, compat="lava", dt=DEFAULT_DT, geq=False, preprocess=preprocess)
    with atomic_path(path, inputs=inputs) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["producer"] = "autosnn"
        f.attrs["config"] = net.config.to_json()
        f.attrs["metadata"] = json.dumps(meta)
        if plan.is_chain and len(plan.encoder) == 1:
            f.attrs["format"] = NETX
            _write_netx(f, plan)
        else:
            f.attrs["format"] = GRAPH_FORMAT
            _write_graph(f, plan)
    return Path(path)


# The netx path's name before the process graph existed; kept for callers.
export_netx = export_lava
