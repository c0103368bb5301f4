"""Zoo networks (filled in by the transformers builders)."""

NETWORKS: dict = {}
