"""Resume states carry a checksum of their content (issue 24, "damage detected").

``train-state.pt``, ``supernet-state.pt`` and ``search-state.json`` are written with a
``sha256`` of their content (:func:`autosnn.core.checkpoint.seal_state`) and verified on
``--resume`` (:func:`~autosnn.core.checkpoint.check_state`): a flipped byte or a value edited
outside autosnn's writer is one line, exit 2, naming the file, with every file in the folder
unchanged and nothing new written. A state from before checksums is refused with how to
proceed. An untouched state still resumes to what an uninterrupted run writes.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import re
import shutil
import struct
import zipfile
from pathlib import Path

import pytest
import torch

from autosnn.core.checkpoint import check_state, seal_state, state_digest
from autosnn.core.errors import CheckpointError
from tests.test_hostile_checkpoints import assert_clean_error, invoke, snapshot
from tests.test_hostile_resume import SEARCH, TRAIN

pytestmark = pytest.mark.usefixtures("one_thread")

SUPERNET = ["supernet", "--dataset", "synthetic", "--limit", "16", "--channels", "2",
            "--timesteps", "1", "--batch-size", "8", "--preset", "quick", "--device", "cpu",
            "-q"]
DAMAGE = "changed outside autosnn's writer"


def ok(*args: str | Path) -> None:
    result = invoke(*args)
    assert result.exit_code == 0, result.output + repr(result.exception)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """One finished tiny run per state kind: train (1 epoch), supernet (1 epoch) + search."""
    train = tmp_path_factory.mktemp("train")
    ok(*TRAIN, "--epochs", "1", "--out", train)
    nas = tmp_path_factory.mktemp("nas")
    ok(*SUPERNET, "--epochs", "1", "--out", nas)
    ok(*SEARCH, "--out", nas)
    return {"train": train, "nas": nas}


# kind -> (the run it comes from, the state file, files the resume needs beside it, command)
KINDS = {
    "train": ("train", "train-state.pt", ("model.pt", "train.json"),
              [*TRAIN, "--epochs", "2"]),
    "supernet": ("nas", "supernet-state.pt", ("supernet.pt",), [*SUPERNET, "--epochs", "2"]),
    "search": ("nas", "search-state.json", ("supernet.pt", "search.json"), SEARCH),
}


def _folder(runs: dict[str, Path], kind: str, dest: Path) -> Path:
    """A copy of the files a ``--resume`` of ``kind`` reads, in ``dest``."""
    run, state, beside, _ = KINDS[kind]
    dest.mkdir()
    for name in (state, *beside):
        shutil.copyfile(runs[run] / name, dest / name)
    return dest / state


def _flip_tensor_byte(raw: bytes) -> bytes:
    """One bit flipped inside a tensor's stored bytes (torch's zip members are stored
    uncompressed and torch does not check their CRC: only our digest can see this)."""
    z = zipfile.ZipFile(io.BytesIO(raw))
    member = max((zi for zi in z.infolist() if "/data/" in zi.filename),
                 key=lambda zi: zi.file_size)
    head = member.header_offset
    name_len, extra_len = struct.unpack("<HH", raw[head + 26:head + 30])
    at = head + 30 + name_len + extra_len + member.file_size // 2
    out = bytearray(raw)
    out[at] ^= 0x04
    return bytes(out)


def _flip_json_digit(raw: bytes) -> bytes:
    """One bit of a digit of the first cached accuracy flipped ('3' <-> '2'): still valid JSON
    and a plausible accuracy, so the field checks alone would accept it."""
    text = raw.decode()
    m = re.search(r'"cache": \[\s*\[\s*"[^"]+",\s*0\.(\d)', text)
    assert m, text[:300]
    at = m.start(1)
    return raw[:at] + bytes([raw[at] ^ 0x01]) + raw[at + 1:]


def _edit_value(kind: str, path: Path) -> None:
    """A hand edit of one value, written back in the file's format without re-sealing."""
    if kind == "search":
        d = json.loads(path.read_text())
        d["cache"][0][1] = 0.999  # a better accuracy than measured: in range, so plausible
        path.write_text(json.dumps(d, indent=2))
    else:
        obj = torch.load(path, weights_only=True)
        obj["optimizer"]["param_groups"][0]["lr"] *= 10
        torch.save(obj, path)


def _damage(kind: str, how: str, path: Path) -> None:
    if how == "edit":
        _edit_value(kind, path)
    elif kind == "search":
        path.write_bytes(_flip_json_digit(path.read_bytes()))
    else:
        path.write_bytes(_flip_tensor_byte(path.read_bytes()))


@pytest.mark.parametrize("how", ["flip", "edit"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_damaged_state_is_one_line_exit_2_and_nothing_is_written(runs, tmp_path, kind, how):
    state = _folder(runs, kind, tmp_path / "out")
    _damage(kind, how, state)
    before = snapshot(state.parent)
    result = invoke(*KINDS[kind][3], "--out", state.parent, "--resume")
    assert_clean_error(result, str(state))
    assert DAMAGE in result.output, result.output
    after = {k: v for k, v in snapshot(state.parent).items() if k != ".autosnn.lock"}
    assert after == before, "a file was written or changed"


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_same_edit_sealed_by_our_writer_is_not_damage(runs, tmp_path, kind):
    """What refuses the edit above is the digest: the edited content re-sealed resumes."""
    state = _folder(runs, kind, tmp_path / "out")
    _edit_value(kind, state)
    if kind == "search":
        d = json.loads(state.read_text())
        del d["sha256"]
        state.write_text(json.dumps(seal_state(d), indent=2))
    else:
        obj = torch.load(state, weights_only=True)
        del obj["sha256"]
        torch.save(seal_state(obj), state)
    result = invoke(*KINDS[kind][3], "--out", state.parent, "--resume")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("kind", list(KINDS))
def test_state_without_a_checksum_is_refused_saying_how_to_proceed(runs, tmp_path, kind):
    """A state written by an autosnn from before checksums: refused, not trusted."""
    state = _folder(runs, kind, tmp_path / "out")
    if kind == "search":
        d = json.loads(state.read_text())
        del d["sha256"]
        state.write_text(json.dumps(d, indent=2))
    else:
        obj = torch.load(state, weights_only=True)
        del obj["sha256"]
        torch.save(obj, state)
    before = snapshot(state.parent)
    result = invoke(*KINDS[kind][3], "--out", state.parent, "--resume")
    assert_clean_error(result, str(state))
    assert "field sha256: missing" in result.output and "without --resume" in result.output
    assert {k: v for k, v in snapshot(state.parent).items() if k != ".autosnn.lock"} == before


def test_untouched_train_state_resumes_to_the_uninterrupted_run(runs, tmp_path):
    state = _folder(runs, "train", tmp_path / "resumed")
    ok(*KINDS["train"][3], "--out", state.parent, "--resume")
    ok(*KINDS["train"][3], "--out", tmp_path / "straight")
    a = torch.load(state.parent / "model.pt", weights_only=True)
    b = torch.load(tmp_path / "straight" / "model.pt", weights_only=True)
    assert a["state_dict"].keys() == b["state_dict"].keys()
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    assert (state.read_bytes() != runs["train"].joinpath("train-state.pt").read_bytes())


def test_untouched_search_state_resumes_byte_identically(runs, tmp_path):
    state = _folder(runs, "search", tmp_path / "out")
    ok(*SEARCH, "--out", state.parent, "--resume")
    for name in ("search.json", "search-state.json"):
        assert (state.parent / name).read_bytes() == (runs["nas"] / name).read_bytes(), name


# -- the digest itself ---------------------------------------------------------------------


def test_a_json_state_digest_is_the_sha256_of_its_canonical_json():
    doc = {"b": [1, 2.5, None], "a": {"z": "x", "y": True}}
    text = '{"a":{"y":true,"z":"x"},"b":[1,2.5,null]}'
    assert state_digest(doc) == hashlib.sha256(text.encode()).hexdigest()
    sealed = seal_state(doc)
    reread = json.loads(json.dumps(sealed, indent=4))  # layout does not matter, content does
    assert check_state("s.json", reread) == doc
    reread["b"][1] = 2.25
    with pytest.raises(CheckpointError, match=DAMAGE):
        check_state("s.json", reread)


def test_a_tensor_state_digest_survives_torch_save_and_sees_one_bit():
    net = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(net.parameters())
    net(torch.ones(1, 3)).sum().backward()
    opt.step()
    obj = seal_state({"model": net.state_dict(), "optimizer": opt.state_dict(), "epoch": 0})
    buf = io.BytesIO()
    torch.save(obj, buf)
    back = torch.load(io.BytesIO(buf.getvalue()), weights_only=True)
    assert set(check_state("s.pt", back)) == {"model", "optimizer", "epoch"}
    bad = torch.load(io.BytesIO(_flip_tensor_byte(buf.getvalue())), weights_only=True)
    with pytest.raises(CheckpointError, match=DAMAGE):
        check_state("s.pt", bad)
    back["optimizer"]["state"][0]["exp_avg"].view(-1)[0] += 1e-7  # the moments count too
    with pytest.raises(CheckpointError, match=DAMAGE):
        check_state("s.pt", back)


def test_content_json_cannot_hold_is_damage_not_a_traceback():
    sealed = seal_state({"round": 1, "x": [1]})
    for bad in (10**5000, {1: 1, "a": 2}, b"bytes", [[[]] * 3] * 2 + [set()]):
        with pytest.raises(CheckpointError, match=DAMAGE):
            check_state("s.json", {**sealed, "x": bad})


def test_corpus_mutations_of_a_search_state_are_all_refused(runs, tmp_path):
    """The hostile corpus's 60 search-state mutations (tests/test_hostile_corpus.py), applied
    to this run's state and read as ``--resume`` reads it: every one that changed the content
    refused, and every one that is still a JSON object refused by the digest."""
    from autosnn.app.nas_search import load_supernet
    from autosnn.core.config import SearchConfig
    from autosnn.search.lambdas import _load
    from tests.test_hostile_corpus import mutate_json

    base = runs["nas"] / "search-state.json"
    doc = json.loads(base.read_text())
    net, _ = load_supernet(runs["nas"] / "supernet.pt")
    space = net.search_space()
    cfg = SearchConfig(**json.loads(doc["fingerprint"])["search"])
    by_digest = 0
    for i in range(60):
        what, data = mutate_json(random.Random(f"search-state-{i}"), base, (("states",),))
        path = tmp_path / f"{i:02d}.json"
        path.write_bytes(data)
        try:
            obj = json.loads(data)
        except (ValueError, RecursionError):
            obj = None
        if obj == doc:  # an edit that changed nothing (a string "stringified"): same content
            _load(path, doc["fingerprint"], space, cfg, {"0"})
            continue
        with pytest.raises(CheckpointError) as err:
            _load(path, doc["fingerprint"], space, cfg, {"0"})
        msg = str(err.value)
        assert str(path) in msg and "\n" not in msg, (what, msg)
        if isinstance(obj, dict):
            assert DAMAGE in msg or "field sha256" in msg, (what, msg)
            by_digest += 1
    assert by_digest >= 20  # most doc edits parse; the rest are byte damage JSON rejects
