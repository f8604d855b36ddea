"""Registry service: who is who in the Espace Collaboratif d'Innovation (companies, clusters)."""
