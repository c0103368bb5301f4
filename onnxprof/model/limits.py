"""The bounds onnxprof puts on what it computes with, so that no input can make it hang or run out of memory.

Each is far above what a real model needs (docs/robustness.md lists them with the reasons).
"""

# If/Loop/Scan bodies nested inside each other. Exporters write a few levels; every walk of the graph is
# safe at this depth, and the protobuf parser itself stops a little above it.
MAX_GRAPH_DEPTH = 32

# A 1-D tensor this long or longer is not handed to ONNX's data propagation, which holds every element
# of a 1-D tensor as a shape dimension (about 160 bytes each). Shape vectors have a handful.
MAX_PROPAGATED_ELEMENTS = 1 << 16

# A tensor's elements must fit in int64, as ONNX Runtime and every exporter count them.
MAX_ELEMENTS = (1 << 63) - 1

# A dim_param formula (``2*N + 1``, ``batch*seq``): its length, its parentheses and its exponents.
MAX_DIM_TEXT = 256
MAX_DIM_NESTING = 16
MAX_DIM_EXPONENT = 8
MAX_FORMULA_TERMS = 64
