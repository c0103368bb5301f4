"""Cost formulas by family; importing this package registers them all."""

from onnxprof.cost.ops import (  # noqa: F401
    activation, conv, elementwise, linear, movement, normalization, pooling, reduction, resize,
)
