"""The bounds onnxprof puts on what it computes with, so that no input can make it hang or run out of memory.

Each is far above what a real model needs (docs/robustness.md lists them with the reasons).
"""

from contextlib import contextmanager
from typing import Iterator

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

# What ONNX's C++ passes (checker, shape inference) may allocate beyond what the process holds: a
# declared rank or length of 2^31 makes them build shapes of billions of dims.
MAX_NATIVE_PASS_BYTES = 2 << 30


@contextmanager
def native_memory_cap(extra_bytes: int = MAX_NATIVE_PASS_BYTES) -> Iterator[None]:
    """Cap the address space at its current size plus ``extra_bytes`` while a native pass runs, so that
    an allocation past it raises MemoryError (std::bad_alloc) instead of swapping the machine to death.
    Where the limit cannot be set (no ``resource`` module, no /proc), the pass runs uncapped."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        with open("/proc/self/statm") as statm:
            current = int(statm.read().split()[0]) * resource.getpagesize()
    except (ImportError, OSError, ValueError):
        yield
        return
    cap = current + extra_bytes
    if soft != resource.RLIM_INFINITY and soft <= cap:
        yield                      # already capped tighter by the user
        return
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
