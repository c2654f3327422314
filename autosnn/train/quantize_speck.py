"""Quantisation-aware training for SynSense Speck (``autosnn train --quantize speck``).

The forward pass is :class:`autosnn.core.speck_quant.SpeckDiscretised`: sinabs's discretised
network (one 8-bit scale per layer shared by the BN-folded weights and bias, the thresholds scaled
alike, float32 IAF), spike for spike, with straight-through gradients to the float parameters.
What training adds is BatchNorm's running statistics: the QAT forward folds BN with the *running*
statistics (as the exporter does), so in training mode each conv first updates them from the batch
(a no-grad float conv of the layer's actual input), exactly as BatchNorm would; that is the Loihi 2
QAT's rule (:mod:`autosnn.train.quantize`), shared from there.

Why QAT matters for Speck: the bias shares the weights' 8-bit scale, and BN-folded biases can be
several times the largest weight, which leaves the weights a few dozen of 127 levels; a network
trained in float then decides some images differently on the chip. Trained through the chip's
rounding, the weights and biases settle where the rounding does not move the decision.
"""

from __future__ import annotations

import torch
from torch import Tensor

from autosnn.core.blocks import ConvBN, safe_conv2d
from autosnn.core.speck_quant import SpeckDiscretised
from autosnn.train.quantize import _update_bn_stats


class SpeckQuantizedNet(SpeckDiscretised):
    """:class:`SpeckDiscretised` whose training-mode forward keeps BN's running statistics those
    of the data (the forward itself always uses the running statistics, as the chip does)."""

    def fold(self, cbn: ConvBN, x: Tensor) -> tuple[Tensor, Tensor]:
        if cbn.bn.training:
            conv = cbn.conv
            with torch.no_grad():
                _update_bn_stats(cbn.bn, safe_conv2d(x.float(), conv.weight.float(), conv.bias,
                                                     conv.stride, conv.padding, conv.groups))
        return super().fold(cbn, x)
