"""api.common."""
