"""Zoo networks (filled in by the classic builders)."""

NETWORKS: dict = {}
