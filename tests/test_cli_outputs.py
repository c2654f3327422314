"""Nothing lost: every output goes through one atomic writer (a failed write keeps the earlier
file and leaves no temp file), an output that is an input is refused, one writer per ``--out``
folder (an OS lock that dies with its process), and output-folder problems are one line before
any long computation."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import autosnn
import safeio as io
from autosnn.core.checkpoint import atomic_torch_save
from safeio import OutputError
from tests.test_hostile_checkpoints import GENOTYPE, assert_clean_error, invoke, snapshot

pytestmark = pytest.mark.usefixtures("one_thread")

EARLIER = b"the earlier, good file\n"


def _full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("writer", ["json", "text", "save", "torch"])
def test_full_disk_keeps_the_earlier_file_and_leaves_no_temp(tmp_path, monkeypatch, writer):
    target = tmp_path / "out.bin"
    target.write_bytes(EARLIER)
    monkeypatch.setattr(io.os, "fsync", _full_disk)
    with pytest.raises(OutputError) as err:
        if writer == "json":
            io.write_json(target, {"a": 1})
        elif writer == "text":
            io.write_text(target, "new")
        elif writer == "save":
            io.atomic_save(target, lambda tmp: Path(tmp).write_bytes(b"new"))
        else:
            atomic_torch_save({"a": torch.zeros(2)}, target)
    message = str(err.value)
    assert "\n" not in message and str(target) in message and "No space left" in message
    assert target.read_bytes() == EARLIER
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


def test_written_files_get_the_usual_permissions(tmp_path):
    """mkstemp makes 0600 files; results must be readable as a plain open() would make them."""
    mask = os.umask(0o022)
    try:
        io.write_json(tmp_path / "a.json", {})
        io.atomic_save(tmp_path / "b.png", lambda tmp: Path(tmp).write_bytes(b"x"))
    finally:
        os.umask(mask)
    for name in ("a.json", "b.png"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644


def test_second_writer_on_a_folder_is_refused_in_one_line(tmp_path):
    with io.out_lock(tmp_path, "first"):
        with pytest.raises(OutputError, match="another run is writing") as err:
            with io.out_lock(tmp_path, "second"):
                pass
        assert "first pid" in str(err.value) and "\n" not in str(err.value)
    with io.out_lock(tmp_path, "third"):  # released when the first block ended
        pass


def test_lock_dies_with_a_killed_process_and_blocks_the_cli_while_alive(tmp_path):
    out = tmp_path / "run"
    code = ("import sys, time\nfrom safeio import out_lock\n"
            f"with out_lock({str(out)!r}, 'holder'):\n"
            "    print('locked', flush=True)\n    time.sleep(120)\n")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        result = invoke("supernet", "--dataset", "synthetic", "--out", out, "--device", "cpu")
        assert_clean_error(result, str(out), "another run")
        assert sorted(p.name for p in out.iterdir()) == [io.LOCK_FILE]
    finally:
        holder.kill()  # SIGKILL: no cleanup code runs, the OS drops the lock
        holder.wait()
    with io.out_lock(out, "after"):
        pass


def test_search_on_a_locked_folder_does_not_touch_its_files(tmp_path):
    (tmp_path / "search.json").write_text('{"earlier": 1}')
    before = snapshot(tmp_path)
    with io.out_lock(tmp_path, "a search"):
        result = invoke("search", "--out", tmp_path, "--lambda", "0", "--device", "cpu")
    assert_clean_error(result, "another run")
    after = snapshot(tmp_path)
    after.pop(io.LOCK_FILE)
    before.pop(io.LOCK_FILE, None)
    assert after == before


@pytest.mark.parametrize("case", ["file-as-out", "file-as-parent"])
def test_output_folder_problems_are_one_line(tmp_path, case):
    blocker = tmp_path / "blocker"
    blocker.write_bytes(EARLIER)
    out = blocker if case == "file-as-out" else blocker / "sub"
    result = invoke("supernet", "--dataset", "synthetic", "--out", out, "--device", "cpu")
    assert_clean_error(result, str(blocker))
    assert blocker.read_bytes() == EARLIER


@pytest.mark.parametrize("why", [errno.EACCES, errno.EROFS, errno.ENOSPC])
def test_unwritable_output_folder_is_one_line_before_training(tmp_path, monkeypatch, why):
    """Read-only folders, read-only mounts and full disks show only on write (root ignores
    mode bits), so the folder is probed with a real temp file before any data is loaded."""
    from autosnn.app.cli import nas

    def unwritable(*args, **kwargs):
        raise OSError(why, os.strerror(why))

    def never(**kwargs):
        raise AssertionError("training started although the folder is unwritable")

    monkeypatch.setattr(io.tempfile, "mkstemp", unwritable)
    monkeypatch.setattr(nas, "run_supernet", never)
    result = invoke("supernet", "--dataset", "synthetic", "--out", tmp_path / "out",
                    "--device", "cpu")
    assert_clean_error(result, "cannot write", os.strerror(why))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "net.pt"
    net = autosnn.build("snn1", GENOTYPE, channels=2, num_classes=10, input_shape=(3, 32, 32),
                        timesteps=1)
    autosnn.save(net, path)
    return path


@pytest.mark.parametrize("option", ["--activity", "--json"])
def test_eval_output_onto_the_checkpoint_is_refused(checkpoint, option):
    before = checkpoint.read_bytes()
    result = invoke("eval", checkpoint, option, checkpoint, "--dataset", "synthetic")
    assert_clean_error(result, "also an input")
    assert checkpoint.read_bytes() == before


def test_eval_json_into_a_missing_folder_fails_before_evaluating(checkpoint, tmp_path,
                                                                 monkeypatch):
    from autosnn.app.cli import nas

    def never(**kwargs):
        raise AssertionError("evaluated although the output cannot be written")

    monkeypatch.setattr(nas, "run_eval", never)
    for option in ("--json", "--activity"):
        result = invoke("eval", checkpoint, option, tmp_path / "missing" / "x", "--dataset",
                        "synthetic")
        assert_clean_error(result, str(tmp_path / "missing"))
    result = invoke("eval", checkpoint, "--json", tmp_path, "--dataset", "synthetic")
    assert_clean_error(result, "is a folder")


def test_eval_outputs_are_written_whole_and_replace_the_earlier_ones(checkpoint, tmp_path):
    act, report = tmp_path / "act.npz", tmp_path / "eval.json"
    act.write_bytes(EARLIER)
    report.write_bytes(EARLIER)
    result = invoke("eval", checkpoint, "--dataset", "synthetic", "--limit", "4",
                    "--activity", act, "--json", report, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert json.loads(report.read_text())["samples"] == 4
    import numpy as np

    with np.load(act) as arrays:
        assert int(arrays["samples"]) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["act.npz", "eval.json"]


def test_eval_activity_on_a_full_disk_keeps_the_earlier_file(checkpoint, tmp_path,
                                                              monkeypatch):
    act = tmp_path / "act.npz"
    act.write_bytes(EARLIER)
    monkeypatch.setattr(io.os, "fsync", _full_disk)
    result = invoke("eval", checkpoint, "--dataset", "synthetic", "--limit", "4",
                    "--activity", act, "--device", "cpu")
    assert_clean_error(result, str(act), "No space left")
    assert act.read_bytes() == EARLIER
    assert sorted(p.name for p in tmp_path.iterdir()) == ["act.npz"]


def test_train_winner_inside_its_own_output_is_refused(tmp_path):
    (tmp_path / "model.pt").write_bytes(EARLIER)
    result = invoke("train", "--winner", tmp_path / "model.pt", "--out", tmp_path)
    assert_clean_error(result, "also an input")
    assert (tmp_path / "model.pt").read_bytes() == EARLIER


def test_search_refuses_a_supernet_it_would_overwrite(tmp_path):
    (tmp_path / "winner-0.pt").write_bytes(EARLIER)
    result = invoke("search", "--supernet", tmp_path / "winner-0.pt", "--lambda", "0",
                    "--out", tmp_path)
    assert_clean_error(result, "also an input")
    assert (tmp_path / "winner-0.pt").read_bytes() == EARLIER


def test_stale_temp_names_match_only_what_the_writers_make(tmp_path):
    made = []
    for name in ("search.json", "act.npz", "model.pt"):
        fd, tmp = io._mkstemp(tmp_path / name, ".tmp" + Path(name).suffix)
        os.close(fd)
        made.append(Path(tmp))
    others = [tmp_path / n for n in ("search.json", ".autosnn.lock", "x.tmp", ".x.tmp.keep")]
    for p in others:
        p.write_bytes(b"")
    assert sorted(io.clean_stale_temps(tmp_path)) == sorted(made)
    assert all(p.exists() for p in others)


def test_lock_holder_is_recorded(tmp_path):
    with io.out_lock(tmp_path, "autosnn search"):
        text = (tmp_path / io.LOCK_FILE).read_text()
    assert text.startswith("autosnn search pid ") and str(os.getpid()) in text


def test_special_files_are_never_opened_or_replaced(checkpoint, tmp_path):
    """A FIFO as input would block for ever; renaming over /dev/null (as root) would replace the
    device. Both are one line, at once."""
    fifo = tmp_path / "w.json"
    os.mkfifo(fifo)
    assert_clean_error(invoke("train", "--winner", fifo, "--out", tmp_path / "o"),
                       "not a regular file")
    fifo_pt = tmp_path / "net.pt"
    os.mkfifo(fifo_pt)
    assert_clean_error(invoke("summary", fifo_pt), "not a regular file")
    fifo_yaml = tmp_path / "chip.yaml"
    os.mkfifo(fifo_yaml)
    assert_clean_error(invoke("search", "--chip", fifo_yaml, "--out", tmp_path / "s"),
                       "not a regular file")
    assert_clean_error(invoke("eval", checkpoint, "--json", "/dev/null"), "not a regular file")
    assert Path("/dev/null").is_char_device()
    with pytest.raises(OutputError, match="not a regular file"):
        io.write_json(fifo, {})


def test_an_output_gets_the_mode_a_plain_open_would_give(tmp_path):
    # Results on a shared machine must be as readable as any file the user creates.
    import os

    old = os.umask(0o022)
    try:
        with open(tmp_path / "plain", "w") as f:
            f.write("x")
        io.write_text(tmp_path / "atomic.txt", "x")
        io.atomic_save(tmp_path / "saved.png", lambda tmp: Path(tmp).write_bytes(b"x"))
    finally:
        os.umask(old)
    want = (tmp_path / "plain").stat().st_mode
    assert (tmp_path / "atomic.txt").stat().st_mode == want
    assert (tmp_path / "saved.png").stat().st_mode == want
