"""Published facts about each zoo network (accuracy, reference counts) with their sources.

The manifest ships inside the package (``manifest.json``) so ``zoo:`` works from any install;
``models/`` at the top of a checkout holds the exported files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Optional


@dataclass(frozen=True)
class NetworkFacts:
    name: str
    title: str
    family: str                     # colour group in plots: ResNet, VGG, Inception ...
    year: int
    input: str
    top1: Optional[float]           # ImageNet top-1 %, single central crop
    top1_source: str
    params: Optional[int]           # PyTorch convention: learnable parameters, no BatchNorm running stats
    params_exact: bool
    params_source: str
    gmacs: Optional[float]          # G multiply-accumulates per image, as published (rounded)
    gmacs_source: str
    notes: str = ""

    @property
    def top1_per_mparams(self) -> Optional[float]:
        """Information density (the paper's Figure 10): top-1 % per million parameters."""
        return self.top1 / (self.params / 1e6) if self.top1 is not None and self.params else None


@lru_cache(maxsize=1)
def manifest() -> dict[str, NetworkFacts]:
    text = resources.files("onnxprof.zoo").joinpath("manifest.json").read_text(encoding="utf-8")
    return {entry["name"]: NetworkFacts(**entry) for entry in json.loads(text)["networks"]}
