"""Static costs: the op registry, per-node formulas, the analysis pass and memory."""
