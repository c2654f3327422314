"""Hostile paths for every file a command reads or writes: names too long for the file system,
a file used as a folder, missing folders, folders where files belong. Each is exit code 2 with
one line and no traceback, and no earlier file changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import autosnn
from tests.test_hostile_checkpoints import GENOTYPE, HOSTILE, assert_clean_error, invoke, snapshot

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("paths")
    net = autosnn.build("snn1", GENOTYPE, channels=2, num_classes=10, timesteps=1)
    autosnn.save(net, root / "net.pt")
    (root / "afile").write_bytes(b"a file, not a folder")
    (root / "afolder").mkdir()
    return root


@st.composite
def hostile_paths(draw, root: Path) -> Path:
    kind = draw(st.sampled_from(["long", "through-file", "missing-parent", "folder"]))
    name = draw(st.text("abcxyz-_.é", min_size=1, max_size=8).filter(lambda t: t not in
                                                                      (".", "..")))
    if kind == "long":
        return root / (name * (300 // len(name) + 1))[:300]
    if kind == "through-file":
        return root / "afile" / name
    if kind == "missing-parent":
        return root / "no-such-folder" / "deeper" / name
    return root / "afolder"


COMMANDS = {
    "eval-json": lambda p, root: ["eval", root / "net.pt", "--json", p, "--dataset", "synthetic"],
    "eval-activity": lambda p, root: ["eval", root / "net.pt", "--activity", p,
                                      "--dataset", "synthetic"],
    "eval-input": lambda p, root: ["eval", p, "--dataset", "synthetic"],
    "summary-input": lambda p, root: ["summary", p],
    "winner-input": lambda p, root: ["train", "--winner", p, "--out", root / "afolder" / "t"],
    "supernet-out": lambda p, root: ["supernet", "--dataset", "synthetic", "--out", p],
    "search-supernet": lambda p, root: ["search", "--supernet", p, "--out",
                                        root / "afolder" / "s", "--lambda", "0"],
}


@given(data=st.data())
@HOSTILE
def test_hostile_path_is_one_line(base, data, monkeypatch):
    from autosnn.app.cli import nas

    def never(**kwargs):
        raise AssertionError("a hostile path reached the training")

    monkeypatch.setattr(nas, "run_supernet", never)
    path = data.draw(hostile_paths(base))
    command = data.draw(st.sampled_from(sorted(COMMANDS)))
    if command == "supernet-out" and (path == base / "afolder"
                                      or path.parent.parent.name == "no-such-folder"):
        path = base / "afile"  # a folder, even a new one, is a fine --out; a file is not
    before = snapshot(base)
    result = invoke(*COMMANDS[command](path, base))
    assert_clean_error(result)
    after = snapshot(base)
    assert {k: v for k, v in after.items() if not k.endswith(".autosnn.lock")} == \
        {k: v for k, v in before.items() if not k.endswith(".autosnn.lock")}, command
