"""api.status."""
