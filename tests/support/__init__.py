"""Test support: endpoints of the real broker and database, service processes, polling."""
