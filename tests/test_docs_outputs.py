"""Every output file the docs promise for `autosnn supernet / search / train` exists after a
real (tiny) run: the names are read from README.md and docs/nas.md, not copied here, so a doc
that names a file no command writes (issue 23: a `winner.pt` that was `winner-0.pt`) fails."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autosnn.app.cli import app
from autosnn.search.fitness import lambda_key

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parents[1]
# a backticked bare file name with an output's extension (no folder: paths name other runs)
NAME = re.compile(r"`([A-Za-z0-9_.<>*-]+\.(?:json|pt|png|md|nir|npz))`")


def section(text: str, start: str, end: str) -> str:
    """The part of ``text`` from the line containing ``start`` to the next one containing
    ``end`` (a heading or a paragraph opening); the test fails if either is missing."""
    i = text.index(start)
    return text[i: text.index(end, i + len(start))]


def promised() -> set[str]:
    """File names the docs say search / train / supernet write into --out."""
    nas = (ROOT / "docs" / "nas.md").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    parts = [section(nas, "## Searching for a chip", "\n## "),
             section(nas, "## Outputs (in `--out`)", "\n## "),
             section(readme, "\nSearch (", "\nExport:")]
    return {n for part in parts for n in NAME.findall(part)}


def test_the_docs_name_output_files_at_all() -> None:
    names = promised()  # the parser finds the files the sections are about
    assert {"search.json", "winner.json", "report.md", "model.pt", "train.json"} <= names


def cli(*args: str | Path) -> None:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output + repr(result.exception)


def test_every_output_file_the_docs_name_is_written(tmp_path: Path) -> None:
    tiny = ["--dataset", "synthetic", "--limit", "48", "--preset", "quick", "--seed", "0", "-q"]
    cli("supernet", *tiny, "--channels", "4", "--timesteps", "2", "--epochs", "1",
        "--batch-size", "16", "--out", tmp_path)
    cli("search", "--out", tmp_path, "--chip", "loihi2", "--lambda", "0", "--lambda", "-0.24",
        "--rounds", "1", "--pool", "4", "--top-k", "2", "--mutations", "1", "--crossovers", "1",
        "--finalists", "1", "--preset", "quick", "-q")
    cli("train", "--winner", tmp_path / "winner.json", *tiny, "--epochs", "1",
        "--batch-size", "16", "--budget-rounds", "0", "--out", tmp_path / "train")
    lambdas = [lambda_key(x) for x in json.loads((tmp_path / "search.json").read_text())["lambdas"]]
    missing = []
    for name in sorted(promised()):
        if "<lambda>" in name:
            names = [name.replace("<lambda>", k) for k in lambdas]
        else:
            names = [name]
        for n in names:
            found = [f for d in (tmp_path, tmp_path / "train")
                     for f in (d.glob(n) if "*" in n else [d / n]) if f.is_file()]
            if not found:
                missing.append(n)
    assert not missing, f"named in the docs, not written: {missing}"
