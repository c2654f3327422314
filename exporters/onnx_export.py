"""Single-timestep ONNX export ``(x_t, v_1..v_n) -> (votes_t, v_1'..v_n')`` and an onnxruntime runner.

The step function is the network's NIR graph (BN folded) run by :class:`~exporters.nir_run.NIRModule`
with autosnn's own threshold (fire at ``H >= 1``), so one timestep of the ONNX graph is one
timestep of the PyTorch model. State = the membrane potential of every neuron layer (and of the
``IF`` "any spike" nodes when present), explicit inputs and outputs named ``v:<node>``; the batch
dimension is dynamic. ``votes_t`` is the voting layer's per-step output; its mean over T steps is
the PyTorch model's output (per-class firing rates). :func:`run_onnx` does that loop.

Static images are presented as ``x_t`` at every step (the stem conv is recomputed each step, which
gives the same current); event input feeds one frame per step.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from autosnn.core.network import SpikingNet
from exporters.base import ExportError
from exporters.nir_export import DEFAULT_DT, graph_metadata, to_nir
from exporters.nir_run import NIRModule
from safeio import atomic_path

OPSET = 17


class OnnxStep(nn.Module):
    """One timestep of a network: ``forward(x_t, *v) -> (votes_t, *v_new)``."""

    def __init__(self, net: SpikingNet) -> None:
        super().__init__()
        self.graph_module = NIRModule(to_nir(net), threshold="geq")
        self.state_names = self.graph_module.stateful_nodes
        self.state_shapes = [
            tuple(int(d) for d in self.graph_module.graph_shapes[n]) for n in self.state_names
        ]

    def forward(self, x: Tensor, *states: Tensor) -> tuple[Tensor, ...]:
        y, new, _ = self.graph_module.step(x, dict(zip(self.state_names, states)))
        return (y, *[new[n] for n in self.state_names])

    def initial_state(self, n: int) -> list[Tensor]:
        return [torch.zeros(n, *s) for s in self.state_shapes]


def export_onnx(
    net: SpikingNet,
    path: str | Path,
    *,
    preprocess: dict[str, Any] | None = None,
    inputs: Sequence[str | Path] = (),
) -> Path:
    """Write the single-step ONNX graph of ``net`` to ``path`` (through a temp file renamed into
    place; ``path`` may not be one of ``inputs``); returns the path. The step function is the
    NIR graph's (one lowering), the metadata the NIR file's plus the state names."""
    import onnx

    step = OnnxStep(net).eval()
    cfg = net.config
    x = torch.zeros(1, *cfg.input_shape)
    states = step.initial_state(1)
    in_names = ["x", *[f"v:{n}" for n in step.state_names]]
    out_names = ["votes", *[f"v_next:{n}" for n in step.state_names]]
    dyn = {name: {0: "batch"} for name in in_names + out_names}
    meta = {k: (v if isinstance(v, str) else json.dumps(v)) for k, v in graph_metadata(
        net, compat="onnx", dt=DEFAULT_DT, geq=True, preprocess=preprocess).items()}
    meta.update({
        "timesteps": str(cfg.timesteps),
        "input_shape": json.dumps(list(cfg.input_shape)),
        "state_names": json.dumps(step.state_names),
        "config": cfg.to_json(),
        "semantics": "votes_t per step; mean over T = firing rates; fire at H >= 1; hard reset",
    })
    with atomic_path(path, inputs=inputs) as tmp:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # dynamo=False is deliberate
            torch.onnx.export(
                step, (x, *states), str(tmp), input_names=in_names, output_names=out_names,
                dynamic_axes=dyn, opset_version=OPSET, dynamo=False,
            )
        model = onnx.load(str(tmp))
        for k, v in meta.items():
            entry = model.metadata_props.add()
            entry.key, entry.value = k, v
        onnx.save(model, str(tmp))
    return Path(path)


def run_onnx(
    path: str | Path, x: np.ndarray | Tensor, T: int | None = None, *, with_state: bool = False
) -> tuple:
    """Run the step graph in onnxruntime for T steps.

    ``x``: static (N, C, H, W) presented every step (T defaults to the exported ``timesteps``) or
    events (T, N, C, H, W). Returns (firing rates (N, classes), per-step votes (T, N, classes)),
    plus the final membrane state ``{node: array}`` when ``with_state``.
    """
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise ExportError(f"{path}: no such ONNX file")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    meta = sess.get_modelmeta().custom_metadata_map
    x = x.detach().cpu().numpy() if isinstance(x, Tensor) else np.asarray(x)
    x = x.astype(np.float32)
    in_rank = len(json.loads(meta["input_shape"])) + 1 if "input_shape" in meta else 4
    if x.ndim == in_rank:
        T = int(meta.get("timesteps", 0)) if T is None else T
        if not T:
            raise ExportError("static input needs T (the ONNX file records no timesteps)")
        frames = np.broadcast_to(x, (T, *x.shape))
    elif x.ndim == in_rank + 1:
        frames = x
    else:
        raise ExportError(f"input of shape {x.shape}: expected rank {in_rank} or {in_rank + 1}")
    n = frames.shape[1]
    inputs = sess.get_inputs()
    states = [np.zeros((n, *i.shape[1:]), dtype=np.float32) for i in inputs[1:]]
    votes = []
    for t in range(frames.shape[0]):
        feed = {inputs[0].name: np.ascontiguousarray(frames[t])}
        feed.update({i.name: s for i, s in zip(inputs[1:], states)})
        out = sess.run(None, feed)
        votes.append(out[0])
        states = out[1:]
    v = np.stack(votes)
    if with_state:
        final = {i.name.removeprefix("v:"): st for i, st in zip(inputs[1:], states)}
        return v.mean(axis=0), v, final
    return v.mean(axis=0), v
