"""``autosnn summary`` on a checkpoint and with ``--dataset`` defaults."""

from __future__ import annotations

import json

import autosnn
from tests.test_hostile_checkpoints import GENOTYPE, assert_clean_error, invoke


def test_summary_of_a_checkpoint_describes_the_saved_network(tmp_path):
    net = autosnn.build("snn1", GENOTYPE, channels=4, num_classes=7, input_shape=(1, 32, 32),
                        timesteps=3)
    autosnn.save(net, tmp_path / "net.pt")
    result = invoke("summary", tmp_path / "net.pt", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["params"] == sum(p.numel() for p in net.parameters())
    table = invoke("summary", tmp_path / "net.pt")
    assert "C=4, 7 classes, input 1x32x32, T=3" in table.output.replace("\n", " ")


def test_summary_takes_input_shape_classes_and_T_from_the_dataset():
    # N-MNIST: 34x34 sensor, two polarities, 10 digits; event data default to T = 20 frames
    result = invoke("summary", "--dataset", "nmnist")
    assert result.exit_code == 0, result.output
    assert "10 classes, input 2x34x34, T=20" in result.output
    explicit = invoke("summary", "--dataset", "nmnist", "--timesteps", "5")
    assert "T=5" in explicit.output


def test_summary_checkpoint_with_network_options_is_refused(tmp_path):
    net = autosnn.build("snn1", GENOTYPE, channels=2, num_classes=3, timesteps=1)
    autosnn.save(net, tmp_path / "net.pt")
    assert_clean_error(invoke("summary", tmp_path / "net.pt", "--model", "cifarnet-fang"),
                       "fixes the network")
