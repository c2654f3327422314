"""The Python API in five lines: build, train a few steps, export, estimate on a chip."""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch

import autosnn
import hwsim
from exporters import export


def main() -> hwsim.CostRecord:
    torch.manual_seed(0)
    x, y = 4 * torch.rand(8, 1, 32, 32), torch.randint(0, 10, (8,))  # synthetic stand-in data
    path = Path(tempfile.mkdtemp()) / "net.nir"

    net = autosnn.build("snn1", "autosnn-lam0.08", channels=4, input_shape=(1, 32, 32), timesteps=4)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(3):  # direct training: MSE between firing rates and the one-hot label
        loss = torch.nn.functional.mse_loss(net(x), torch.nn.functional.one_hot(y, 10).float())
        opt.zero_grad(), loss.backward(), opt.step()
    export(net.eval(), "nir", path)
    record = hwsim.estimate(hwsim.read_network(path), None, "loihi2")

    print(f"loss {loss.item():.4f}, {net.spike_report().total:,.0f} spikes/img; on loihi2: {record.cores_used} cores, "
          f"{record.time_per_timestep_s:.3g} s per timestep, {record.energy_total_j:.3g} J")
    return record


if __name__ == "__main__":
    main()
