"""``autosnn summary``: table and JSON, counts in the paper's convention."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from autosnn.app.cli import app

runner = CliRunner()


def test_summary_json_counts_params_and_neurons_by_hand() -> None:
    res = runner.invoke(app, ["summary", "--model", "cifarnet-fang", "--channels", "16", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    # CIFARNet-Fang(16): convs 3*16*9 + 5*16*16*9, BN 6*32, FC 1024*128 + 128*100, 8 PLIF scalars
    assert data["params"] == 432 + 5 * 2304 + 6 * 32 + 1024 * 128 + 128 * 100 + 8
    # neurons: 6 conv layers of 16x32x32 (first three) / 16x16x16 (next three), 2 max-pools,
    # FC 128 + 100 output neurons
    conv_neurons = 3 * 16 * 32 * 32 + 3 * 16 * 16 * 16
    pool_neurons = 16 * 16 * 16 + 16 * 8 * 8
    assert data["neurons"] == conv_neurons + pool_neurons + 128 + 100
    kinds = {layer["kind"] for layer in data["layers"]}
    assert {"conv", "bn", "plif", "maxpool", "fc"} <= kinds
    assert all({"name", "kind", "shape", "neurons", "params", "macs"} <= set(layer)
               for layer in data["layers"])


def test_summary_table_for_genotype() -> None:
    res = runner.invoke(app, ["summary", "--space", "snn1", "--genotype",
                              "SRB_k5,SRB_k5,skip,SRB_k3,SRB_k5", "--channels", "16"])
    assert res.exit_code == 0, res.output
    assert "417,626" in res.output  # 0.42 M, Table 3


def test_summary_bad_genotype_is_one_line_error_exit_2() -> None:
    res = runner.invoke(app, ["summary", "--genotype", "SRB_k5,bad,skip,SRB_k3,SRB_k5"])
    assert res.exit_code == 2
    assert res.output.strip().count("\n") == 0 and "error: genotype slot 2" in res.output
