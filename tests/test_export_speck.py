"""``--to speck``: a briefly trained speck-space network through sinabs (DynapcnnNetwork with
discretisation, the core mapping), the written file, and --verify's class agreement."""

from __future__ import annotations

import json

import pytest
import torch

import autosnn
from autosnn.core.stats import Z95, wilson
from exporters import ExportError, export, get_exporter
from exporters.speck_compat import SamnaUnavailable, sinabs_available
from safeio import OutputError
from tests.helpers import fit_halves, halves_data

pytestmark = pytest.mark.skipif(
    not sinabs_available(), reason="sinabs not installed (pip install 'autosnn[speck]')")

GENOTYPE = "speck_SRB_k3,speck_SCB_k3,speck_skip"


@pytest.fixture(scope="module")
def trained() -> autosnn.SpikingNet:
    """C = 4, T = 2, 15 Adam steps on synthetic data: a network whose classes mean something."""
    torch.manual_seed(0)
    net = autosnn.build("speck", GENOTYPE, channels=4, num_classes=2, input_shape=(1, 32, 32),
                        timesteps=2)
    fit_halves(net, steps=15)
    return net.eval()


def test_trained_network_maps_onto_speck_cores_and_is_written(trained, tmp_path) -> None:
    x, y = halves_data(64, 1)
    with torch.no_grad():
        acc = float((trained(x).argmax(-1) == y).float().mean())
    assert acc >= 0.9  # it learned the task, so agreement below is about classes that matter
    out = export(trained, "speck", tmp_path / "net.speck.json")
    doc = json.loads(out.read_text())
    names = [n for n, _ in trained.active_spiking_layers()]
    assert list(doc["layer_to_core"]) == names  # one Speck layer per spiking layer, in order
    cores = list(doc["layer_to_core"].values())
    assert len(set(cores)) == len(cores) and all(0 <= c < 9 for c in cores)
    for core in doc["memory_per_core"].values():
        for used, capacity in (core["kernel"], core["neuron"], core["bias"]):
            assert 0 <= used <= capacity
    srb_in = doc["layers"][0]  # the stem feeds conv1 and (merge) conv2 of the SRB
    assert len(srb_in["destinations"]) == 2
    for lay in doc["layers"]:
        w = torch.tensor(lay["weight"]).abs().max()
        b = torch.tensor(lay["bias"] or [0]).abs().max()
        # 8-bit: weights and bias share one scale that makes the larger fill the range
        assert w <= 128 and b <= 128 and max(w, b) >= 64
        assert 0 < lay["threshold"] < 2**15 and lay["min_v_mem"] == -(2**15 - 1)
    assert doc["samna_config"] is None and "samna" in doc["samna_note"]


def test_verify_reports_class_agreement_with_an_interval(trained) -> None:
    x, _ = halves_data(64, 2)
    checks = get_exporter("speck").verify(trained, None, x)
    by = {c.consumer: c for c in checks}
    fl = by["sinabs float vs float model"]
    qd = by["sinabs discretised (Speck) vs discretised model (QAT forward)"]
    info = by["sinabs discretised (Speck) vs float model"]
    assert len(by) == 3
    # same arithmetic in float: every image's class agrees
    assert fl.class_agreement == 1.0
    names = [n for n, _ in trained.active_spiking_layers()]
    assert list(fl.cosine) == names  # every Speck layer compared to ours
    assert min(fl.cosine.values()) > 0.99
    # our discretised forward is sinabs's discretised network, spike for spike
    assert qd.class_agreement == 1.0 and list(qd.mismatch) == names
    assert max(qd.mismatch.values()) == 0.0
    assert info.class_agreement >= 0.95 and info.threshold == 0.0 and info.passed
    assert "/64 images, 95% interval" in info.note and "informative" in info.note


def test_wilson_interval() -> None:
    lo, hi = wilson(500, 500)
    assert (lo, hi) == pytest.approx((500 / (500 + Z95**2), 1.0), abs=1e-9)
    lo, hi = wilson(50, 100)
    assert (lo, hi) == pytest.approx((0.4038, 0.5962), abs=1e-4)


def test_networks_outside_the_speck_space_are_refused_naming_the_layer(tmp_path) -> None:
    net = autosnn.build("snn1", "SRB_k3,skip,SCB_k3,SCB_k3,skip", channels=4, timesteps=2)
    with pytest.raises(ExportError, match="layer 'stem.lif'.*PLIF is not Speck's IF"):
        export(net.eval(), "speck", tmp_path / "x.speck.json")
    assert not (tmp_path / "x.speck.json").exists()


def test_output_equal_to_an_input_is_refused(trained, tmp_path) -> None:
    src = tmp_path / "net.pt"
    src.write_bytes(b"checkpoint")
    with pytest.raises(OutputError):
        export(trained, "speck", src, inputs=(src,))
    assert src.read_bytes() == b"checkpoint"


def test_samna_placeholder_fails_in_one_clear_line() -> None:
    import samna  # the placeholder (no real samna here)

    if not getattr(samna, "AUTOSNN_PLACEHOLDER", False):
        pytest.skip("a real samna is installed")
    with pytest.raises(SamnaUnavailable, match="needs the real samna"):
        samna.speck2f.configuration.SpeckConfiguration()
