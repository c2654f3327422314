"""Reading one NIR node's fields as hwsim needs them: each bad value is one HwsimInputError.

Shared by the graph normaliser (`hwsim.nir_normalise`), the composition of weight nodes in
series (`hwsim.nir_compose`) and the network reader (`hwsim.network`), so the three read a
stride, a padding or a weight array the same way.
"""

from __future__ import annotations

import nir
import numpy as np

from hwsim.errors import HwsimInputError

# 4 M weights (32 MB): a crop selector composed with a stem conv has hundreds; strided convs
# chained without a spiking node between them grow the composite kernel 2x per conv
MAX_COMPOSITE_WEIGHTS = 1 << 22


def pair(value: object, name: str, where: str, minimum: int | None = None) -> tuple[int, int]:
    """An int or a pair of ints (stride, padding, kernel size) as a pair, each >= `minimum`
    when given (a zero stride would divide by zero, a negative padding shrink the map)."""
    expected = "an int or a pair of ints" + ("" if minimum is None else f" >= {minimum}")
    if isinstance(value, np.ndarray) and value.dtype.kind in "iu":
        value = value.ravel().tolist()  # the common case, without float round trips
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        ints: list[int] | None = [int(value)]
    elif isinstance(value, tuple | list) and all(
        isinstance(v, int | np.integer) and not isinstance(v, bool) for v in value
    ):
        ints = [int(v) for v in value]
    else:
        ints = None
    if ints is None:
        try:
            arr = np.atleast_1d(np.asarray(value, dtype=float)).ravel()
        except (TypeError, ValueError):
            raise HwsimInputError(where, name, expected) from None
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise HwsimInputError(where, name, expected)
        ints = [int(v) for v in arr]
    if len(ints) not in (1, 2):
        raise HwsimInputError(where, name, expected)
    out = (ints[0], ints[-1])
    if minimum is not None and min(out) < minimum:
        raise HwsimInputError(where, name, expected)
    return out


def integer(value: object, name: str, where: str) -> int:
    """One integer field (groups, start_dim): a real whole number, else one error."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        arr = np.asarray(np.nan)
    if arr.size != 1 or not np.isfinite(arr.item()) or arr.item() != round(arr.item()):
        raise HwsimInputError(where, name, "an integer")
    return int(arr.item())


def weight_of(node: nir.NIRNode, name: str, where: str) -> np.ndarray:
    """A weight node's weights: real and finite (bytes or text would be read as connections,
    a NaN weight is no synapse a chip can store). Torch tensors (norse, sinabs) read as arrays."""
    weight = np.asarray(node.weight)
    real = np.issubdtype(weight.dtype, np.integer) or np.issubdtype(weight.dtype, np.floating)
    if not (real or weight.dtype == bool) or not np.all(np.isfinite(weight)):
        raise HwsimInputError(where, f"{name}.weight", "a real, finite numeric array")
    return weight


def numeric_padding(node: nir.Conv2d, name: str, where: str) -> tuple[int, int]:
    """A Conv2d's padding as (rows, cols): 'valid', 'same' (from kernel and dilation) or ints."""
    kernel = np.shape(node.weight)[2:]
    if isinstance(node.padding, str):
        if node.padding == "valid":
            return (0, 0)
        if node.padding == "same":
            dil = pair(node.dilation, f"{name}.dilation", where, 1)
            return (dil[0] * (kernel[0] - 1) // 2, dil[1] * (kernel[1] - 1) // 2)
        raise HwsimInputError(where, f"{name}.padding", "'same', 'valid' or ints")
    return pair(node.padding, f"{name}.padding", where, 0)


def conv_out_hw(
    hw: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int],
    padding: tuple[int, int], dilation: tuple[int, int],
) -> tuple[int, int]:
    """Output rows and columns of a 2D convolution or pooling (PyTorch's and NIR's formula)."""
    return tuple(  # type: ignore[return-value]
        (hw[i] + 2 * padding[i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1
        for i in (0, 1)
    )
