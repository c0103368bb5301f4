"""Running models for real: synthetic inputs, the timing harness, batch sweeps, run records."""
