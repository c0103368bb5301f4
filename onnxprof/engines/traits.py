"""What a predictor must know about how an engine runs a graph, told by the engine without running it.

The kernel model (:mod:`onnxprof.predict.kernels`) reads these and never an engine's name: a layout an
engine imposes, and whether the kernels run on this host's CPU (so that its caches bound what a kernel
keeps close), are facts of the engine and its options, and only the engine's module states them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GraphLayout:
    """How an engine lays out a model's feature maps: in channel blocks for the nodes it can block."""

    unblocked: frozenset[str] = frozenset()        # ONNX nodes (convolutions, pools) it leaves in plain NCHW
    # the conversion kernels it inserts: (its op name, the plain-layout tensor's name)
    conversions: tuple[tuple[str, str], ...] = ()
    block: int = 0                                 # channels a block (0: no blocked layout)


@dataclass(frozen=True)
class EngineTraits:
    runs_on_host: bool = False          # kernels run on this machine's CPU: its caches and memory serve them
    layout: GraphLayout = GraphLayout()

    @property
    def device_kind(self) -> str:
        return "cpu" if self.runs_on_host else "gpu"
