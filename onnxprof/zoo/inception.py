"""Zoo networks (filled in by the inception builders)."""

NETWORKS: dict = {}
