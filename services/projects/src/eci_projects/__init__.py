"""Projects service: collaborative projects inside clusters, and its read model of companies."""
