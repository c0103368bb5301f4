"""Zoo networks (filled in by the mobile builders)."""

NETWORKS: dict = {}
