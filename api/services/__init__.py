"""api.services."""
