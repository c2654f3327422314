"""A generated corpus of mutated input files, one reader per kind (issue 24, "Done when").

From small valid files the project writes (a model checkpoint, a super-network checkpoint, a
winner JSON and a search state from a tiny synthetic search, an activity ``.npz`` and a NIR graph
from ``autosnn eval --activity`` / ``autosnn export``, chip YAML profiles, experiment sub-run
results, Fashion-MNIST IDX archives written here), every case derives one file with a seeded
mutation (``tests/corpus_mutate.py``: byte damage, or a structural edit written back in the
file's format) and hands it to the reader the CLI uses, in-process. Each case must end in one of
two ways: the file is accepted and what was read is sane, or the project's one-line error
(AutosnnError and its subclasses, hwsim's HwsimInputError, safeio.OutputError) naming the file.
Never another exception, never a hang (per-case timeout), and the file's bytes never change.
A handful per kind go through the real CLI (typer's CliRunner) for the exit-2 one-line path.

Cases the readers of files other sessions are editing still get wrong are
``xfail(strict=True)`` with the reason (see ``KNOWN``): the suite stays green and each such case
fails as soon as its reader is fixed, so the mark is removed with the fix.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import pickle
import random
import shutil
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nir
import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner

import autosnn
from autosnn.app.experiments.results import read_result
from autosnn.app.nas_search import load_supernet
from autosnn.app.pipeline import model_from_winner
from autosnn.core.checkpoint import MAX_CHANNELS, MAX_TIMESTEPS, content_digest, seal_state
from autosnn.core.config import SearchConfig
from autosnn.core.errors import AutosnnError
from autosnn.core.spaces import get_space
from autosnn.data.spec import DataSpec, load_data
from autosnn.search.lambdas import _load as load_search_state
from hwsim.activity import DEFAULT_RATE
from hwsim.chip import builtin_chip_dir, load_chip
from hwsim.cli import app as hwsim_app
from hwsim.cli.inputs import costed_activity
from hwsim.errors import HwsimInputError
from hwsim.estimate import estimate
from hwsim.network import read_network
from safeio import OutputError
from tests.corpus_mutate import HOSTILE, byte_damage, doc_edit
from tests.test_hostile_checkpoints import assert_clean_error, invoke, snapshot
from tests.test_hostile_resume import SEARCH, SUPERNET

pytestmark = pytest.mark.usefixtures("one_thread")

# The project's one-line errors; anything else escaping a reader is a failure of the case.
CLEAN = (AutosnnError, HwsimInputError, OutputError)

# Cases per kind: 680 files in all.
COUNTS = {"model": 60, "supernet": 60, "winner": 60, "search-state": 60, "activity": 60,
          "nir": 60, "chip": 60, "result": 80, "idx": 80, "cifar": 40, "gesture": 40, "svhn": 40}
DATA_KINDS = ("idx", "cifar", "gesture", "svhn")  # errors may name the file or its data folder

# -- the valid files ------------------------------------------------------------------------


@dataclass
class Base:
    """The valid files every case derives from, parsed once."""

    run: Path  # the tiny supernet + search folder
    model: Path  # winner-0.pt: a space model checkpoint (autosnn.save)
    supernet: Path
    winner: Path
    state: Path  # search-state.json
    activity: Path
    nir: Path
    chips: tuple[Path, ...]
    idx: Path  # a folder with the four Fashion-MNIST IDX .gz files
    cifar: Path  # a folder with CIFAR-10's python-version batches (pickles)
    gesture: Path  # DVS128 Gesture in tonic's layout: one (N, 4) .npy per class and split
    svhn: Path  # SVHN format 2: train_32x32.mat, test_32x32.mat (MATLAB v5)
    results: dict[str, dict]  # kind -> a valid experiment-result.json document

    def __post_init__(self) -> None:
        self.network = read_network(self.nir)
        self.loihi2 = load_chip("loihi2")
        supernet = autosnn.load(self.supernet)
        self.space, self.supernet_config = supernet.search_space(), supernet.config
        fingerprint = json.loads(self.state.read_text())["fingerprint"]
        self.fingerprint = fingerprint
        self.search_cfg = SearchConfig(**json.loads(fingerprint)["search"])
        self.model_net = autosnn.load(self.model)


def _ok(*args: str | Path) -> None:
    result = invoke(*args)
    assert result.exit_code == 0, result.output + repr(result.exception)


IDX_IMAGES = {"train": 20, "test": 10}


def idx_bytes(arr: np.ndarray) -> bytes:
    """An IDX file (LeCun): magic 0x0800 | ndim, one big-endian uint32 per dimension, data."""
    head = (0x800 | arr.ndim).to_bytes(4, "big")
    return head + b"".join(int(d).to_bytes(4, "big") for d in arr.shape) + arr.tobytes()


CIFAR_BATCHES = (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch")


def cifar_batch(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), b"labels": [0, 1, 2, 9],
            b"batch_label": b"corpus"}


def write_cifar_folder(folder: Path) -> None:
    """CIFAR-10's python version (the pickles the safe unpickler reads), 4 images a batch."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(CIFAR_BATCHES):
        (folder / name).write_bytes(pickle.dumps(cifar_batch(i), protocol=2))


def svhn_arrays(n: int, seed: int) -> dict[str, np.ndarray]:
    """SVHN format 2 content: X (32, 32, 3, N) uint8, y (N, 1) doubles 1..10 as published."""
    rng = np.random.default_rng(seed)
    return {"X": rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8),
            "y": (np.arange(n) % 10 + 1).astype(float).reshape(-1, 1)}


SVHN_FILES = {"train_32x32.mat": 10, "test_32x32.mat": 4}


def write_svhn_folder(folder: Path) -> None:
    import scipy.io

    folder.mkdir(parents=True, exist_ok=True)
    for i, (name, n) in enumerate(SVHN_FILES.items()):
        scipy.io.savemat(folder / name, svhn_arrays(n, i), do_compression=i == 1)


GESTURE_SPLITS = {"ibmGestureTrain": "user01_led", "ibmGestureTest": "user24_led"}


def gesture_events(label: int) -> np.ndarray:
    """One tonic-style sample: 40 events, columns x, y, p, t (ms)."""
    rng = np.random.default_rng(label)
    n = 40
    return np.stack([rng.integers(0, 128, n), rng.integers(0, 128, n), rng.integers(0, 2, n),
                     np.sort(rng.uniform(0, 500, n))], axis=1)


def write_gesture_folder(folder: Path) -> None:
    for split, user in GESTURE_SPLITS.items():
        (folder / split / user).mkdir(parents=True, exist_ok=True)
        for label in range(11):
            np.save(folder / split / user / f"{label}.npy", gesture_events(label))


def write_idx_folder(folder: Path) -> None:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for part, prefix in (("train", "train"), ("test", "t10k")):
        n = IDX_IMAGES[part]
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images),
                                                                              mtime=0))
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels),
                                                                              mtime=0))


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Base:
    run = tmp_path_factory.mktemp("run")
    _ok(*SUPERNET, "--out", run)
    _ok(*SEARCH, "--out", run)
    _ok("eval", run / "winner-0.pt", "--dataset", "synthetic", "--limit", "4", "--device", "cpu",
        "--activity", run / "act.npz")
    _ok("export", run / "winner-0.pt", "--to", "nir", "-o", run / "net.nir")
    chips = []
    for name in ("loihi2", "spinnaker2"):  # truenorth costs 2.9 s per estimate, these 0.1-0.2 s
        chips.append(run / f"{name}.yaml")
        shutil.copyfile(builtin_chip_dir() / f"{name}.yaml", chips[-1])
    write_idx_folder(run / "fashion-mnist")
    write_cifar_folder(run / "cifar-10-batches-py")
    write_gesture_folder(run / "DVSGesture")
    write_svhn_folder(run / "svhn")
    search = json.loads((run / "search.json").read_text())
    rates = {"stem.lif": 0.02, "body.1": 0.01, "head.lifs.0": 0.05}
    results = {
        "train": {"result": {"accuracy": 0.125, "spikes": 3.0625, "samples": 16,
                             "params": 0.0123}, "seconds": 2.5},
        "supernet": {"result": {"checkpoint": str(run / "supernet.pt"),
                                "spikes_avg": 430.4375}, "seconds": 5.0},
        "search": {"result": {"winners": search["winners"], "evaluated": search["evaluated"],
                              "candidates": [{k: c[k] for k in ("genotype", "accuracy", "spikes")}
                                             for c in search["candidates_evaluated"][:4]]},
                   "seconds": 3.0},
        "firing-rate": {"result": {"firing_rate": 0.02, "per_layer": rates}, "seconds": 0.5},
    }
    b = Base(run=run, model=run / "winner-0.pt", supernet=run / "supernet.pt",
             winner=run / "winner-0.json", state=run / "search-state.json",
             activity=run / "act.npz", nir=run / "net.nir", chips=tuple(chips),
             idx=run / "fashion-mnist", cifar=run / "cifar-10-batches-py",
             gesture=run / "DVSGesture", svhn=run / "svhn", results=results)
    b.hashes = snapshot(run)  # type: ignore[attr-defined]
    return b


# -- mutations per kind: (what was done, whether the content was re-signed, the file) ---------


def _resign(obj: dict) -> dict:
    """Recompute a checkpoint's SHA-256 after an edit, so the edit reaches the field checks
    behind the digest (an edit outside our writer is otherwise reported as damage)."""
    if isinstance(obj.get("meta"), str) and isinstance(obj.get("state_dict"), dict) and all(
            isinstance(v, torch.Tensor) for v in obj["state_dict"].values()):
        obj["sha256"] = content_digest(obj["meta"], obj["state_dict"])
    return obj


def _torch_bytes(obj: Any) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _bad_tensor(rng: random.Random, t: torch.Tensor) -> tuple[str, Any]:
    op = rng.choice(["nan", "inf", "shape", "dtype-int", "dtype-f64", "complex", "scalar",
                     "empty", "not-tensor", "huge"])
    if op == "nan":
        bad = t.clone().float()
        bad.view(-1)[0] = math.nan
        return op, bad.to(t.dtype) if t.is_floating_point() else bad
    if op == "inf":
        bad = t.clone().float()
        bad.view(-1)[-1] = math.inf
        return op, bad.to(t.dtype) if t.is_floating_point() else bad
    if op == "shape":
        return op, torch.zeros(*[d + 1 for d in t.shape]) if t.dim() else torch.zeros(2)
    if op == "dtype-int":
        return op, t.to(torch.int64)
    if op == "dtype-f64":
        return op, t.to(torch.float64)
    if op == "complex":
        return op, t.to(torch.complex64) if t.is_floating_point() else t.float() * 1j
    if op == "scalar":
        return op, torch.tensor(1.0)
    if op == "empty":
        return op, torch.zeros(0)
    if op == "huge":
        return op, torch.full_like(t.float(), 3e38).to(t.dtype) if t.is_floating_point() else t
    return op, rng.choice([None, 1.0, "w", [1, 2]])


def mutate_checkpoint(rng: random.Random, path: Path, prefer: tuple[tuple, ...]
                      ) -> tuple[str, bool, bytes]:
    raw = path.read_bytes()
    obj = torch.load(path, weights_only=True)
    where = rng.choice(["bytes", "bytes", "meta", "meta", "meta", "state", "state", "top",
                        "unsigned"])
    if where == "bytes":
        what, data = byte_damage(rng, raw)
        return what, False, data
    meta = json.loads(obj["meta"])
    state = dict(obj["state_dict"])
    if where in ("meta", "unsigned"):
        what, meta = doc_edit(rng, meta, prefer)
        try:
            obj["meta"] = json.dumps(meta, allow_nan=True)
        except (TypeError, ValueError, OverflowError):
            obj["meta"] = "{"
    elif where == "state":
        key = rng.choice(sorted(state))
        op = rng.choice(["bad", "bad", "bad", "delete", "add"])
        if op == "delete":
            del state[key]
            what = f"state_dict: delete {key}"
        elif op == "add":
            state["bogus.weight"] = torch.ones(3)
            what = "state_dict: unknown tensor"
        else:
            how, state[key] = _bad_tensor(rng, state[key])
            what = f"state_dict[{key}]: {how}"
        obj["state_dict"] = state
    else:
        op = rng.choice(["not-dict", "no-meta", "no-state", "no-sha", "meta-bytes", "sha-int"])
        what = f"top: {op}"
        if op == "not-dict":
            return what, False, _torch_bytes(rng.choice([[1, 2], "x", 3, None, torch.ones(2)]))
        if op == "no-meta":
            del obj["meta"]
        elif op == "no-state":
            del obj["state_dict"]
        elif op == "no-sha":
            del obj["sha256"]
        elif op == "meta-bytes":
            obj["meta"] = obj["meta"].encode()
        else:
            obj["sha256"] = 12345
        return what, False, _torch_bytes(obj)
    if where == "unsigned":
        return f"unsigned {what}", False, _torch_bytes(obj)
    return f"{what} (re-signed)", True, _torch_bytes(_resign(obj))


def _json_bytes(doc: Any) -> bytes:
    try:
        return json.dumps(doc, allow_nan=True, indent=1).encode()
    except (TypeError, ValueError, OverflowError):
        return b"{broken"


def mutate_json(rng: random.Random, path: Path, prefer: tuple[tuple, ...] = ()
                ) -> tuple[str, bytes]:
    raw = path.read_bytes()
    r = rng.random()
    if r < 0.3:
        return byte_damage(rng, raw)
    if r < 0.36:
        return rng.choice([
            ("not UTF-8", raw.replace(b'"', b'\xff"', 1)),
            ("deep nesting", b"[" * 100_000 + b"]" * 100_000),
            ("{broken", b"{broken"),
            ("{}", b"{}"),
            ("NaN literal", b"NaN"),
            ("huge integer", b"1" + b"0" * 5000),
        ])
    what, doc = doc_edit(rng, json.loads(raw), prefer)
    return what, _json_bytes(doc)


def mutate_npz(rng: random.Random, path: Path) -> tuple[str, bytes]:
    raw = path.read_bytes()
    if rng.random() < 0.3:
        return byte_damage(rng, raw)
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    layers = sorted(k for k in arrays if k not in ("T", "samples"))
    op = rng.choice(["value", "value", "value", "shape", "dtype", "delete", "unknown", "scalar",
                     "object", "zip-junk"])
    key = rng.choice(layers)
    if op == "value":
        key = rng.choice([*layers, "T", "samples"])
        v = rng.choice(HOSTILE[:20])
        if isinstance(v, int) and not isinstance(v, bool) and abs(v) > 2**63:
            v = float(v) if abs(v) < 10**300 else math.inf
        arr = np.array(arrays[key], dtype=float if key not in ("T", "samples") else None)
        try:
            arrays[key] = np.full_like(arr, v) if arr.ndim else np.array(v)
        except (TypeError, ValueError, OverflowError):
            arrays[key] = np.array(v)
        what = f"{key} = {v!r}"
    elif op == "shape":
        a = arrays[key]
        arrays[key] = rng.choice([a.reshape(-1), a[..., :-1], np.stack([a, a]), a[:0]])
        what = f"{key}: shape {arrays[key].shape}"
    elif op == "dtype":
        dt = rng.choice([np.complex128, np.bool_, np.int8, np.float16, "U3", "S2", np.uint64])
        arrays[key] = arrays[key].astype(dt)
        what = f"{key}: dtype {np.dtype(dt)}"
    elif op == "delete":
        key = rng.choice([*layers, "T", "samples"])
        del arrays[key]
        what = f"delete {key}"
    elif op == "unknown":
        arrays[rng.choice(["bogus", "stem", "x.y", "T2"])] = np.ones(4)
        what = "unknown array"
    elif op == "scalar":
        arrays[key] = np.array(1.0)
        what = f"{key}: scalar"
    elif op == "object":  # a pickled object array: must never be unpickled
        arrays[key] = np.array([{"a": 1}, None], dtype=object)
        what = f"{key}: object array"
    else:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("T.npy", b"not an npy header")
            z.writestr("readme.txt", "hello")
        return "zip of junk members", buf.getvalue()
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return what, buf.getvalue()


def _nir_array_nodes(graph: nir.NIRGraph) -> list[tuple[str, str]]:
    return [(name, attr) for name, node in graph.nodes.items()
            for attr, v in vars(node).items() if isinstance(v, np.ndarray)]


def mutate_nir(rng: random.Random, path: Path, folder: Path) -> tuple[str, bytes]:
    raw = path.read_bytes()
    if rng.random() < 0.35:
        return byte_damage(rng, raw)
    graph = nir.read(str(path))
    op = rng.choice(["array", "array", "array", "array", "meta", "meta", "drop-node",
                     "drop-edge", "dangling-edge", "cycle", "io-type"])
    if op == "array":
        name, attr = rng.choice(_nir_array_nodes(graph))
        a = getattr(graph.nodes[name], attr)
        how = rng.choice(["nan", "inf", "huge", "negative", "shape", "empty", "complex",
                          "bytes", "scalar", "zero"])
        if how == "nan":
            b = a.astype(float).copy()
            b.flat[0] = math.nan
        elif how == "inf":
            b = np.full(a.shape, math.inf)
        elif how == "huge":
            b = np.full(a.shape, 1e30 if a.dtype.kind == "f" else 2**40)
        elif how == "negative":
            b = -np.abs(a) - 1
        elif how == "shape":
            b = np.concatenate([a.reshape(-1), a.reshape(-1)]) if a.size else np.ones(3)
        elif how == "empty":
            b = a.reshape(-1)[:0]
        elif how == "complex":
            b = a.astype(complex)
        elif how == "bytes":
            b = a.astype(bytes)
        elif how == "scalar":
            b = np.array(7)
        else:
            b = np.zeros_like(a)
        setattr(graph.nodes[name], attr, b)
        what = f"{name}.{attr}: {how}"
    elif op == "meta":
        key = rng.choice(["T", "T", "input_shape", "channels", "dt", "format"])
        v = rng.choice(HOSTILE[:20] + (10**15, 2**62))
        if isinstance(v, int) and not isinstance(v, bool) and abs(v) > 2**63:
            v = 2**62
        graph.metadata[key] = v if v is not None else "none"
        what = f"metadata.{key} = {v!r}"
    elif op == "drop-node":
        name = rng.choice(sorted(graph.nodes))
        del graph.nodes[name]
        what = f"drop node {name}"
    elif op == "drop-edge":
        edge = rng.choice(graph.edges)
        graph.edges.remove(edge)
        what = f"drop edge {edge}"
    elif op == "dangling-edge":
        graph.edges.append((rng.choice(sorted(graph.nodes)), "nowhere"))
        what = "edge to an unknown node"
    elif op == "cycle":
        names = [e[0] for e in graph.edges]
        graph.edges.append((names[-1], names[1]))
        what = f"cycle {names[-1]} -> {names[1]}"
    else:
        name = rng.choice(sorted(n for n, v in graph.nodes.items() if hasattr(v, "input_type")))
        node = graph.nodes[name]
        key = next(iter(node.input_type))
        node.input_type[key] = np.array(rng.choice([[-8], [0], [10**9, 10**9], [2, 0, 3]]))
        what = f"{name}.input_type = {node.input_type[key].tolist()}"
    scratch = folder / "scratch.nir"
    try:
        nir.write(str(scratch), graph)
    except Exception as exc:  # noqa: BLE001  nir cannot even write it: damage bytes instead
        what2, data = byte_damage(rng, raw)
        return f"{what} (unwritable: {type(exc).__name__}) -> {what2}", data
    data = scratch.read_bytes()
    scratch.unlink()
    return what, data


def mutate_yaml(rng: random.Random, path: Path) -> tuple[str, bytes]:
    raw = path.read_bytes()
    r = rng.random()
    if r < 0.25:
        return byte_damage(rng, raw)
    if r < 0.33:
        return rng.choice([
            ("python tag", b"!!python/object/apply:os.system ['true']\n"),
            ("alias bomb", b"a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a]\n"
                           b"c: &c [*b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c]\n"),
            ("tabs", raw.replace(b"  ", b"\t", 3)),
            ("duplicate top key", raw + b"\n" + raw.split(b"\n", 1)[0] + b"\n"),
            ("a list", b"- 1\n- 2\n"),
            ("deep nesting", b"[" * 5000 + b"]" * 5000),
        ])
    doc = yaml.safe_load(raw)
    what, doc = doc_edit(rng, doc)
    try:
        return what, yaml.safe_dump(doc, sort_keys=False).encode()
    except (yaml.YAMLError, TypeError, ValueError, OverflowError) as exc:
        return f"{what} (unrepresentable: {type(exc).__name__})", b"{broken"


IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte")


def mutate_idx(rng: random.Random, src: Path, folder: Path) -> tuple[str, Path]:
    """Copy the four archives into ``folder`` and damage one (gzipped or raw)."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = rng.choice(IDX_FILES[:2] * 2 + IDX_FILES[2:])
    raw_variant = rng.random() < 0.2  # the un-gzipped layout is read too
    for name in IDX_FILES:
        data = (src / f"{name}.gz").read_bytes()
        if raw_variant:
            (folder / name).write_bytes(gzip.decompress(data))
        else:
            (folder / f"{name}.gz").write_bytes(data)
    target = folder / (stem if raw_variant else f"{stem}.gz")
    gz = (src / f"{stem}.gz").read_bytes()
    content = gzip.decompress(gz)
    ndim = content[3]
    op = rng.choice(["gz-bytes", "gz-bytes", "gz-bytes", "deflate-junk", "content-bytes",
                     "dims", "dims", "magic", "labels", "trailing", "empty-gz", "gz-bomb-header"])
    if op == "gz-bytes" and not raw_variant:
        what, data = byte_damage(rng, gz)
    elif op == "deflate-junk" and not raw_variant:  # a corrupt deflate stream: zlib.error
        what, data = "deflate stream replaced", gz[:10] + rng.randbytes(len(gz) - 18) + gz[-8:]
    else:
        body = bytearray(content)
        if op == "content-bytes" or op == "gz-bytes":
            what, body2 = byte_damage(rng, bytes(body))
            body = bytearray(body2)
        elif op == "dims":
            d = rng.randrange(ndim)
            value = rng.choice([0, 1, 27, 29, 2**31, 2**32 - 1, IDX_IMAGES["train"] + 1])
            body[4 + 4 * d: 8 + 4 * d] = value.to_bytes(4, "big")
            what = f"dimension {d} = {value}"
        elif op == "magic":
            body[2:4] = rng.choice([b"\x0d\x03", b"\x08\x04", b"\x08\x01", b"\x09\x03"])
            what = f"magic {bytes(body[:4]).hex()}"
        elif op == "labels" and ndim == 1:
            body[-1] = rng.choice([10, 200, 255])
            what = f"last label = {body[-1]}"
        elif op == "trailing":
            body += b"\x00" * rng.randint(1, 100)
            what = "trailing bytes"
        elif op == "empty-gz":
            body = bytearray()
            what = "empty content"
        else:
            body[4:8] = (2**32 - 1).to_bytes(4, "big")
            body[8:12] = (2**32 - 1).to_bytes(4, "big") if ndim > 1 else body[8:12]
            what = "header announces 2^64 bytes"
        data = bytes(body) if raw_variant else gzip.compress(bytes(body), mtime=0)
    target.write_bytes(data)
    return f"{target.name}: {what}", target


def mutate_cifar(rng: random.Random, src: Path, folder: Path) -> tuple[str, Path]:
    """Copy the six batches into ``folder`` and damage one pickle (bytes or content)."""
    shutil.copytree(src, folder, dirs_exist_ok=True)
    index = rng.randrange(len(CIFAR_BATCHES))
    target = folder / CIFAR_BATCHES[index]
    if rng.random() < 0.4:
        what, data = byte_damage(rng, target.read_bytes())
        target.write_bytes(data)
        return f"{target.name}: {what}", target
    doc: Any = cifar_batch(index)
    op = rng.choice(["label", "label", "labels", "data-dtype", "data-shape", "data", "delete",
                     "top", "protocol-5"])
    if op == "label":
        doc[b"labels"][rng.randrange(4)] = rng.choice(HOSTILE)
    elif op == "labels":
        doc[b"labels"] = rng.choice(HOSTILE + (np.zeros(4, dtype=np.float32),
                                               np.full(4, 2**63, dtype=np.uint64)))
    elif op == "data-dtype":
        doc[b"data"] = doc[b"data"].astype(rng.choice([np.float32, np.int64, np.bool_]))
    elif op == "data-shape":
        d = doc[b"data"]
        doc[b"data"] = rng.choice([d.reshape(-1), d[:, :-1], d[:0], d.reshape(4, 3, 1024), d[:3]])
    elif op == "data":
        doc[b"data"] = rng.choice(HOSTILE)
    elif op == "delete":
        del doc[rng.choice([b"data", b"labels"])]
    elif op == "top":
        doc = rng.choice(HOSTILE)
    what = f"{target.name}: {op}"
    target.write_bytes(pickle.dumps(doc, protocol=5 if op == "protocol-5" else 2))
    return what, target


def mutate_gesture(rng: random.Random, src: Path, folder: Path) -> tuple[str, Path]:
    """Copy the recordings into ``folder`` and damage one sample (bytes or content)."""
    shutil.copytree(src, folder, dirs_exist_ok=True)
    split = rng.choice(sorted(GESTURE_SPLITS))
    label = rng.randrange(11)
    target = folder / split / GESTURE_SPLITS[split] / f"{label}.npy"
    if rng.random() < 0.35:
        what, data = byte_damage(rng, target.read_bytes())
        target.write_bytes(data)
        return f"{split}/{label}.npy: {what}", target
    a = gesture_events(label)
    op = rng.choice(["value", "value", "value", "dtype", "shape", "object"])
    if op == "value":
        col = rng.randrange(4)
        v = rng.choice([math.nan, math.inf, -math.inf, -1.0, 128.0, 1e30, -1e18, 1e300])
        a[rng.randrange(len(a)), col] = v
        what = f"column {col} = {v}"
    elif op == "dtype":
        dt = rng.choice(["U4", "S2", np.complex64, np.bool_, np.float16, np.int8])
        a = a.astype(dt)
        what = f"dtype {np.dtype(dt)}"
    elif op == "shape":
        a = rng.choice([a[:, :3], a.reshape(-1), a[:0], a.reshape(20, 2, 4), a.T])
        what = f"shape {list(a.shape)}"
    else:
        a = np.array([{"x": 1}] * 4, dtype=object).reshape(1, 4)
        what = "pickled object array"
    np.save(target, a, allow_pickle=True)
    return f"{split}/{label}.npy: {what}", target


def mutate_svhn(rng: random.Random, src: Path, folder: Path) -> tuple[str, Path]:
    """Copy both .mat files into ``folder`` and damage one (bytes or content)."""
    import scipy.io

    shutil.copytree(src, folder, dirs_exist_ok=True)
    index = rng.randrange(len(SVHN_FILES))
    name, n = list(SVHN_FILES.items())[index]
    target = folder / name
    if rng.random() < 0.5:
        what, data = byte_damage(rng, target.read_bytes())
        target.write_bytes(data)
        return f"{name}: {what}", target
    arrays = svhn_arrays(n, index)
    op = rng.choice(["y", "y", "X", "delete"])
    if op == "y":
        y = arrays["y"]
        arrays["y"] = rng.choice([y + 0.5, np.full_like(y, np.nan), np.full_like(y, np.inf),
                                  y * 0, y + 10, np.array([["a"]] * n), y[:-1], y.astype(complex),
                                  -y, np.full_like(y, 1e30)])
        what = f"y {arrays['y'].dtype}{list(arrays['y'].shape)}"
    elif op == "X":
        x = arrays["X"]
        arrays["X"] = rng.choice([x.astype(np.float32), x[..., :1], x[:31], x[:, :, :2],
                                  x.reshape(-1)])
        what = f"X {arrays['X'].dtype}{list(arrays['X'].shape)}"
    else:
        key = rng.choice(["X", "y"])
        del arrays[key]
        what = f"delete {key}"
    scipy.io.savemat(target, arrays, do_compression=bool(index))
    return f"{name}: {what}", target


# -- readers: the library call the CLI makes, and what "sane" means for what it returns -------


def _finite_tree(x: Any) -> bool:
    if isinstance(x, dict):
        return all(_finite_tree(v) for v in x.values())
    if isinstance(x, list | tuple):
        return all(_finite_tree(v) for v in x)
    if isinstance(x, float):
        return math.isfinite(x)
    return True


def _record_problem(rec: Any) -> str | None:
    for name in ("spikes", "synops", "energy_total_j", "time_per_timestep_s",
                 "latency_per_inference_s", "energy_synops_j", "energy_neurons_j"):
        v = getattr(rec, name)
        if v is not None and not (math.isfinite(v) and v >= 0):
            return f"{name} = {v}"
    if rec.feasible and rec.cores_used < 1:
        return f"feasible on {rec.cores_used} cores"
    return None


def read_model(b: Base, path: Path, signed: bool) -> str | None:
    net = autosnn.load(path)
    if not all(bool(torch.isfinite(p).all()) for p in net.state_dict().values()
               if p.is_floating_point()):
        return "non-finite weights loaded"
    if not signed:  # damage outside the writer: only a byte-identical content may load
        want = b.model_net.state_dict()
        got = net.state_dict()
        if net.config != b.model_net.config or set(got) != set(want) or not all(
                torch.equal(got[k], want[k]) for k in want):
            return "damaged content loaded as a different network"
    return None


def read_supernet(b: Base, path: Path, signed: bool) -> str | None:
    net, extra = load_supernet(path)  # what open_search does, in its order
    DataSpec.from_dict(extra["data"])
    s = extra["spikes_avg"]
    if isinstance(s, bool) or not isinstance(s, int | float) or not (math.isfinite(s) and s > 0):
        return f"spikes_avg {s!r} accepted"
    if not signed and net.config != b.supernet_config:
        return "damaged content loaded"
    return None


def read_winner(b: Base, path: Path) -> str | None:
    spec = model_from_winner(path)
    doc = json.loads(path.read_text())
    if not (isinstance(spec.channels, int) and 1 <= spec.channels <= MAX_CHANNELS):
        return f"channels {spec.channels!r}"
    if not (isinstance(spec.timesteps, int) and 1 <= spec.timesteps <= MAX_TIMESTEPS):
        return f"timesteps {spec.timesteps!r}"
    get_space(spec.space).parse(spec.genotype)
    if doc.get("neuron", "plif") != spec.neuron:
        return f"neuron {doc.get('neuron')!r} in the file, {spec.neuron!r} used"
    return None


def read_state(b: Base, path: Path) -> str | None:
    cache, states = load_search_state(path, b.fingerprint, b.space, b.search_cfg, {"0"})
    for g, e in cache.items():
        if not (0 <= e.accuracy <= 1 and math.isfinite(e.spikes) and e.spikes >= 0):
            return f"cache entry {g}: {e.accuracy}, {e.spikes}"
    for k, s in states.items():
        if k != "0" or not 0 <= s.round <= b.search_cfg.rounds:
            return f"state {k} round {s.round}"
    return None


def read_activity(b: Base, path: Path) -> str | None:
    act = costed_activity(b.network, b.nir, path, DEFAULT_RATE, None)
    if act.timesteps != (b.network.timesteps or act.timesteps) or act.samples < 1:
        return f"T {act.timesteps}, samples {act.samples}"
    for k, v in act.counts.items():
        if not (np.isrealobj(v) and np.all(np.isfinite(v)) and np.all(v >= 0)):
            return f"counts of {k} not finite non-negative reals"
    return _record_problem(estimate(b.network, act, b.loihi2))


def read_nir(b: Base, path: Path) -> str | None:
    network = read_network(path)  # then what `hwsim estimate` does without --activity
    if network.timesteps is not None and not 1 <= network.timesteps <= MAX_TIMESTEPS * 10**6:
        return f"T {network.timesteps}"
    act = costed_activity(network, path, None, DEFAULT_RATE, None)
    return _record_problem(estimate(network, act, b.loihi2))


def read_chip(b: Base, path: Path) -> str | None:
    spec = load_chip(path)
    act = costed_activity(b.network, b.nir, None, DEFAULT_RATE, None)
    return _record_problem(estimate(b.network, act, spec))


def read_idx(b: Base, folder: Path) -> str | None:
    splits = load_data(DataSpec(dataset="fashion-mnist", data_dir=str(folder)))
    for name in ("train", "val", "test"):
        split = getattr(splits, name)
        if tuple(split.inputs.shape[1:]) != (1, 32, 32) or not bool(
                ((split.labels >= 0) & (split.labels <= 9)).all()):
            return f"{name}: inputs {tuple(split.inputs.shape)}"
    return None


def read_cifar(b: Base, folder: Path) -> str | None:
    splits = load_data(DataSpec(dataset="cifar10", data_dir=str(folder)))
    for name in ("train", "val", "test"):
        split = getattr(splits, name)
        if tuple(split.inputs.shape[1:]) != (3, 32, 32) or not bool(
                ((split.labels >= 0) & (split.labels <= 9)).all()):
            return f"{name}: inputs {tuple(split.inputs.shape)}"
    return None


def read_gesture(b: Base, folder: Path) -> str | None:
    splits = load_data(DataSpec(dataset="dvs-gesture", data_dir=str(folder), timesteps=2))
    for name in ("train", "val", "test"):
        x = getattr(splits, name).inputs
        if not bool(torch.isfinite(x).all()) or bool((x < 0).any()):
            return f"{name}: frames hold negative or non-finite counts"
    return None


def read_svhn(b: Base, folder: Path) -> str | None:
    splits = load_data(DataSpec(dataset="svhn", data_dir=str(folder)))
    for name in ("train", "val", "test"):
        split = getattr(splits, name)
        if tuple(split.inputs.shape[1:]) != (3, 32, 32) or not bool(
                ((split.labels >= 0) & (split.labels <= 9)).all()):
            return f"{name}: inputs {tuple(split.inputs.shape)}"
    return None


# -- one case -----------------------------------------------------------------------------


@dataclass
class Case:
    kind: str
    what: str
    path: Path  # the mutated file (for idx: the damaged archive in its folder)
    read: Callable[[], str | None]


def make_case(b: Base, kind: str, index: int, folder: Path) -> Case:
    rng = random.Random(f"{kind}-{index}")
    folder.mkdir(parents=True, exist_ok=True)
    if kind in ("model", "supernet"):
        src = b.model if kind == "model" else b.supernet
        prefer = (("config",),) if kind == "model" else (("extra", "spikes_avg"),
                                                          ("extra", "data"))
        what, signed, data = mutate_checkpoint(rng, src, prefer)
        path = folder / src.name
        path.write_bytes(data)
        reader = read_model if kind == "model" else read_supernet
        return Case(kind, what, path, lambda: reader(b, path, signed))
    if kind == "winner":
        what, data = mutate_json(rng, b.winner, (("neuron",), ("genotype",), ("channels",)))
        path = folder / b.winner.name
        path.write_bytes(data)
        return Case(kind, what, path, lambda: read_winner(b, path))
    if kind == "search-state":
        what, data = mutate_json(rng, b.state, (("states",),))
        path = folder / b.state.name
        path.write_bytes(data)
        return Case(kind, what, path, lambda: read_state(b, path))
    if kind == "activity":
        what, data = mutate_npz(rng, b.activity)
        path = folder / "act.npz"
        path.write_bytes(data)
        return Case(kind, what, path, lambda: read_activity(b, path))
    if kind == "nir":
        what, data = mutate_nir(rng, b.nir, folder)
        path = folder / "net.nir"
        path.write_bytes(data)
        return Case(kind, what, path, lambda: read_nir(b, path))
    if kind == "chip":
        src = b.chips[index % len(b.chips)]
        what, data = mutate_yaml(rng, src)
        path = folder / src.name
        path.write_bytes(data)
        return Case(kind, f"{src.name}: {what}", path, lambda: read_chip(b, path))
    if kind == "result":
        sub = sorted(b.results)[index % len(b.results)]
        valid = folder / "valid.json"
        valid.write_text(json.dumps(b.results[sub]))
        what, data = mutate_json(rng, valid, (("result",),))
        valid.unlink()
        path = folder / "experiment-result.json"
        path.write_bytes(data)
        return Case(kind, f"{sub}: {what}", path, lambda: _read_result(path, sub))
    if kind == "svhn":
        what, path = mutate_svhn(rng, b.svhn, folder)
        return Case(kind, what, path, lambda: read_svhn(b, folder))
    if kind == "gesture":
        what, path = mutate_gesture(rng, b.gesture, folder)
        return Case(kind, what, path, lambda: read_gesture(b, folder))
    if kind == "cifar":
        what, path = mutate_cifar(rng, b.cifar, folder)
        return Case(kind, what, path, lambda: read_cifar(b, folder))
    what, path = mutate_idx(rng, b.idx, folder)
    return Case(kind, what, path, lambda: read_idx(b, folder))


def _read_result(path: Path, sub: str) -> str | None:
    result, seconds = read_result(path, sub)
    if not (math.isfinite(seconds) and seconds >= 0) or not _finite_tree(result):
        return f"non-finite numbers in {result!r}"[:200]
    if sub == "search":
        for w in result["winners"].values():
            get_space(w["space"]).parse(w["genotype"])
    return None


def run_case(case: Case) -> tuple[str, str]:
    """(outcome, detail): "accepted", "refused" (the one-line error), or a failure:
    "traceback" (another exception), "not-one-line", "unnamed" (the file not named),
    "insane" (accepted with a nonsense value)."""
    try:
        problem = case.read()
    except CLEAN as exc:
        msg = str(exc)
        if "\n" in msg.strip():
            return "not-one-line", msg
        names = ((str(case.path), str(case.path.parent)) if case.kind in DATA_KINDS
                 else (str(case.path),))
        if not any(n in msg for n in names):
            return "unnamed", msg
        return "refused", msg
    except Exception as exc:  # noqa: BLE001  what the case is about: nothing else may escape
        return "traceback", f"{type(exc).__name__}: {str(exc)[:200]}"
    if problem is not None:
        return "insane", problem
    return "accepted", ""


# Cases the readers of files other sessions are editing get wrong today: (kind, index) ->
# the reader to fix. Each is xfail(strict=True): it fails once its reader is fixed.
KNOWN: dict[tuple[str, int], str] = {
}

CASES = [pytest.param(kind, i, id=f"{kind}-{i:03d}",
                      marks=[pytest.mark.xfail(strict=True, reason=KNOWN[(kind, i)])]
                      if (kind, i) in KNOWN else [])
         for kind, n in COUNTS.items() for i in range(n)]

OUTCOMES: Counter = Counter()


@pytest.fixture(scope="module")
def cases_dir(tmp_path_factory, base) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("cases")
    yield folder
    if OUTCOMES:
        print("\nhostile corpus outcomes:", dict(sorted(OUTCOMES.items())))
    assert snapshot(base.run) == base.hashes, "a valid base file changed"  # type: ignore


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("kind", "index"), CASES)
def test_mutated_file_is_read_sanely_or_refused_in_one_line(base, cases_dir, kind, index):
    folder = cases_dir / f"{kind}-{index:03d}"
    case = make_case(base, kind, index, folder)
    before = snapshot(folder)
    outcome, detail = run_case(case)
    OUTCOMES[(kind, outcome)] += 1
    assert snapshot(folder) == before, f"{case.what}: the file changed"
    assert outcome in ("accepted", "refused"), f"{case.what}: {outcome}: {detail}"


def test_the_corpus_holds_500_files_of_every_kind():
    assert sum(COUNTS.values()) >= 500 and set(COUNTS) == {
        "model", "supernet", "winner", "search-state", "activity", "nir", "chip", "result", "idx",
        "cifar", "gesture", "svhn"}


# -- the same files through the real commands: exit 2, one line naming the file --------------


def _cli(b: Base, kind: str, path: Path, folder: Path) -> Any:
    """The command a user runs on this kind of file (its result)."""
    if kind == "model":
        return invoke("summary", path)
    if kind == "supernet":
        return invoke(*SEARCH, "--supernet", path, "--out", folder / "out")
    if kind == "winner":
        return invoke("train", "--winner", path, "--dataset", "synthetic", "--limit", "4",
                      "--epochs", "1", "--batch-size", "4", "--out", folder / "train", "-q",
                      "--device", "cpu", "--preset", "quick")
    if kind == "search-state":  # --resume in a folder holding the super-network and the state
        return invoke(*SEARCH, "--out", folder, "--resume")
    if kind in ("idx", "cifar", "svhn"):
        name = {"idx": "fashion-mnist", "cifar": "cifar10", "svhn": "svhn"}[kind]
        return invoke("data", "info", name, "--data-dir", folder)
    if kind == "gesture":  # data info lists files only: a training run decodes them first
        return invoke("train", "--genotype", "SRB_k3,skip,SCB_k3,SCB_k3,skip", "--channels", "2",
                      "--timesteps", "2", "--dataset", "dvs-gesture", "--data-dir", folder,
                      "--epochs", "1", "--batch-size", "4", "--out", folder / "train", "-q",
                      "--device", "cpu", "--preset", "quick")
    args = {"activity": ["estimate", b.nir, "--activity", path], "nir": ["estimate", path],
            "chip": ["estimate", b.nir, "--chip", path]}[kind]
    return CliRunner().invoke(hwsim_app, [str(a) for a in args])


CLI_KINDS = ("model", "supernet", "winner", "search-state", "activity", "nir", "chip", "idx",
             "cifar", "gesture", "svhn")
CLI_PER_KIND = 3


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", CLI_KINDS)
def test_refused_files_are_exit_2_one_line_at_the_cli(base, tmp_path, kind):
    """The first few cases of each kind the reader refuses, through the command itself: exit
    code 2, one ``error:`` line naming the file, no traceback, nothing written or changed."""
    done = 0
    for index in range(COUNTS[kind]):
        if (kind, index) in KNOWN:
            continue
        folder = tmp_path / f"{kind}-{index:03d}"
        case = make_case(base, kind, index, folder)
        if run_case(case)[0] != "refused":
            shutil.rmtree(folder)
            continue
        if kind == "search-state":
            shutil.copyfile(base.supernet, folder / "supernet.pt")
        before = snapshot(folder)
        result = _cli(base, kind, case.path, folder)
        out = result.output.strip()
        assert result.exit_code == 2, f"{case.what}: exit {result.exit_code}: {out!r}"
        assert "\n" not in out and out.startswith("error: "), f"{case.what}: {out!r}"
        assert "Traceback" not in out and isinstance(result.exception, SystemExit)
        named = (str(case.path), str(folder)) if kind in DATA_KINDS else (str(case.path),)
        assert any(n in out for n in named), f"{case.what}: {out!r}"
        after = {k: v for k, v in snapshot(folder).items() if not k.endswith(".autosnn.lock")}
        assert after == before, f"{case.what}: files written or changed"
        done += 1
        if done == CLI_PER_KIND:
            break
    assert done == CLI_PER_KIND, f"only {done} refused {kind} cases to try"


# -- experiment sub-runs reused from a damaged record ------------------------------------------


@pytest.mark.parametrize("text", ["{broken", "{}", '{"result": {}, "seconds": 1}',
                                  '{"result": {"accuracy": NaN, "spikes": 1, "samples": 1, '
                                  '"params": null}, "seconds": 1}', "[]", ""])
def test_a_reused_sub_run_with_a_damaged_result_is_one_line(tmp_path, text):
    """``experiment``: a finished sub-run (same request, outputs present) whose
    experiment-result.json is damaged is refused in one line naming it; nothing reruns and
    nothing is written (the record is not silently replaced by a fresh run either)."""
    from autosnn.app.experiments.base import REQUEST_FILE, ExperimentContext, Settings

    ctx = ExperimentContext(Settings(root=tmp_path, dataset="synthetic", device="cpu"), "t")
    request = {"kind": "train", "x": 1}
    folder = ctx.runs / "sub"
    folder.mkdir(parents=True)
    (folder / REQUEST_FILE).write_text(json.dumps(request, sort_keys=True) + "\n")
    (folder / "train.json").write_text("{}\n")
    (folder / "experiment-result.json").write_text(text)
    before = snapshot(folder)
    ran = []
    with pytest.raises(AutosnnError) as info:
        ctx._run("sub", request, "train.json", lambda f, r: ran.append(r) or {})
    msg = str(info.value)
    assert "\n" not in msg and str(folder / "experiment-result.json") in msg, msg
    assert not ran and snapshot(folder) == before


def test_a_sub_run_cut_short_before_its_result_record_is_resumed(tmp_path):
    """The outputs exist but the result record does not (killed in between): rerun with resume,
    then the record is written, instead of a FileNotFoundError."""
    from autosnn.app.experiments.base import REQUEST_FILE, ExperimentContext, Settings

    ctx = ExperimentContext(Settings(root=tmp_path, dataset="synthetic", device="cpu"), "t")
    request = {"kind": "supernet"}
    folder = ctx.runs / "sub"
    folder.mkdir(parents=True)
    (folder / REQUEST_FILE).write_text(json.dumps(request, sort_keys=True) + "\n")
    (folder / "supernet-timing.json").write_text("{}\n")
    ran = []
    sub = ctx._run("sub", request, "supernet-timing.json",
                   lambda f, r: ran.append(r) or {"checkpoint": "x.pt", "spikes_avg": 2.0})
    assert ran == [True] and not sub.reused
    again = ctx._run("sub", request, "supernet-timing.json", lambda f, r: pytest.fail("rerun"))
    assert again.reused and again.result == {"checkpoint": "x.pt", "spikes_avg": 2.0}


def test_a_corrupt_gzip_stream_is_one_line_not_zlib_error(base, tmp_path):
    """Issue 24: a corrupt deflate stream in a Fashion-MNIST archive raised zlib.error through
    ``data info``; it is one line naming the archive, exit 2."""
    import zlib

    folder = tmp_path / "fm"
    shutil.copytree(base.idx, folder)
    target = folder / "train-images-idx3-ubyte.gz"
    gz = target.read_bytes()
    bad = gz[:10] + bytes([0xFF]) * (len(gz) - 18) + gz[-8:]  # 0b11 block type: invalid
    with pytest.raises(zlib.error):  # the case is what the issue saw
        gzip.decompress(bad)
    target.write_bytes(bad)
    before = snapshot(folder)
    result = invoke("data", "info", "fashion-mnist", "--data-dir", folder)
    assert_clean_error(result, str(target))
    assert snapshot(folder) == before


# -- the super-network edits issue 24 lists, as named cases ------------------------------------

_SUPERNET_EDITS: dict[str, tuple[tuple[str, ...], Any]] = {
    "spikes_avg-nan": (("spikes_avg",), math.nan), "spikes_avg-inf": (("spikes_avg",), math.inf),
    "spikes_avg-string": (("spikes_avg",), "x"), "spikes_avg-list": (("spikes_avg",), [1.0]),
    "spikes_avg-zero": (("spikes_avg",), 0), "spikes_avg-negative": (("spikes_avg",), -3.0),
    "data-string": (("data",), "x"), "data-unknown-key": (("data", "bogus"), 1),
    "val_limit-negative": (("data", "val_limit"), -5), "val_limit-string": (("data", "val_limit"),
                                                                            "x"),
}


@pytest.mark.parametrize("edit", list(_SUPERNET_EDITS))
def test_issue_24_super_network_edits_are_one_line_naming_the_file(base, tmp_path, edit):
    """A super-network checkpoint whose extra.spikes_avg or extra.data was edited (and the
    checksum recomputed, so the edit reaches the field checks) is refused in one line naming
    the file by what ``autosnn search`` reads it with."""
    obj = torch.load(base.supernet, weights_only=True)
    meta = json.loads(obj["meta"])
    keys, value = _SUPERNET_EDITS[edit]
    target = meta["extra"]
    for k in keys[:-1]:
        target = target[k]
    target[keys[-1]] = value
    obj["meta"] = json.dumps(meta, allow_nan=True)
    path = tmp_path / "supernet.pt"
    path.write_bytes(_torch_bytes(_resign(obj)))
    case = Case("supernet", edit, path, lambda: read_supernet(base, path, True))
    outcome, detail = run_case(case)
    assert outcome == "refused", f"{edit}: {outcome}: {detail}"


# -- search-state edits the random corpus rarely draws, as named cases --------------------------



def _state_edit(d: dict, edit: str) -> None:
    row, state = d["cache"][0], next(iter(d["states"].values()))
    if edit == "accuracy-10**400":
        row[1] = 10**400
    elif edit == "spikes-10**400":
        row[2] = 10**400
    elif edit == "activity-10**400":
        row[3][next(iter(row[3]))] = [10**400]
    elif edit == "rng-all-zero":
        state["rng_state"] = [3, [0] * 625, None]
    elif edit == "round-huge":
        state["round"] = 10**400
    elif edit == "rounds-nan":
        state["rounds"][0] = math.nan


@pytest.mark.parametrize("edit", [
    "accuracy-10**400", "spikes-10**400", "activity-10**400", "rng-all-zero", "round-huge",
    "rounds-nan"])
def test_hand_edited_search_state_is_refused_in_one_line(base, tmp_path, edit):
    d = json.loads(base.state.read_text())
    del d["sha256"]
    _state_edit(d, edit)
    path = tmp_path / "search-state.json"  # re-sealed: the edit reaches the field checks
    path.write_text(json.dumps(seal_state(d), allow_nan=True))

    def read() -> str | None:
        _, states = load_search_state(path, base.fingerprint, base.space, base.search_cfg, {"0"})
        for s in states.values():
            rng = random.Random()
            rng.setstate(s.rng_state)  # type: ignore[arg-type]
            if len({rng.random() for _ in range(8)}) == 1:
                return "a degenerate random generator state accepted"
        return None

    outcome, detail = run_case(Case("search-state", edit, path, read))
    assert outcome == "refused", f"{edit}: {outcome}: {detail}"


# -- damaged CIFAR pickles that escaped the safe unpickler --------------------------------------


@pytest.mark.parametrize("seed", [760, 934, 1120, 1851, 2492, 2964])
def test_a_damaged_cifar_pickle_is_one_line(tmp_path, seed):
    """Byte damage found by fuzzing the python-version batches: an unknown codec name in the
    latin-1 trick (LookupError) and huge lengths (MemoryError) escaped as tracebacks."""
    from autosnn.data.cifar import safe_unpickle

    rng = random.Random(seed)
    protocol = (2, 4, 5)[rng.randrange(3)]
    raw = pickle.dumps({b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, 1, 2, 3]},
                       protocol=protocol)
    what, data = byte_damage(rng, raw)
    path = tmp_path / "data_batch_1"
    path.write_bytes(data)
    with pytest.raises(AutosnnError) as info:
        safe_unpickle(path, "origin")
    assert "\n" not in str(info.value) and str(path) in str(info.value), what


def test_an_aedat31_packet_with_a_negative_timestamp_is_refused(tmp_path):
    """A flipped sign bit in an AEDAT 3.1 timestamp (found by fuzzing) loaded as t = -2^31,
    which squeezed every other event of the recording into one time bin."""
    from autosnn.data.aedat import read_aedat31_polarity
    from tests.test_data_events import _aedat31

    path = tmp_path / "user01_led.aedat"
    path.write_bytes(_aedat31([(1, 2, 1, 5), (3, 4, 0, -(2**31) + 8)]))
    with pytest.raises(AutosnnError, match="negative timestamp") as info:
        read_aedat31_polarity(path, "origin")
    assert str(path) in str(info.value)


@pytest.mark.parametrize("seed", [208, 211])
def test_a_damaged_tiny_imagenet_image_is_one_line(tmp_path, seed):
    """Byte damage found by fuzzing 64x64 images (JPEG, PNG, GIF, BMP): a header announcing
    1.5 G pixels escaped as Pillow's DecompressionBombError; the size is now checked from the
    header before anything is decoded."""
    from PIL import Image

    from autosnn.data.tiny_imagenet import _decode

    arr = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    raws = []
    for fmt in ("JPEG", "PNG", "GIF", "BMP"):
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, fmt)
        raws.append(buf.getvalue())
    rng = random.Random(seed)
    what, data = byte_damage(rng, rng.choice(raws))
    path = tmp_path / "val_0.JPEG"
    path.write_bytes(data)
    with pytest.raises(AutosnnError) as info:
        _decode(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value), what
