"""Cost formulas by family; importing this package registers them all."""

from onnxprof.cost.ops import (  # noqa: F401
    activation, attention, contrib, control, conv, elementwise, linear, misc, ml, movement, normalization, pooling,
    quantization, recurrent, reduction, resize, sampling, signal,
)
