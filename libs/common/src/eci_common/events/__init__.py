"""Event payload contracts, one module per publishing service, and the catalog of them all."""
