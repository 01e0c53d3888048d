"""api.live."""
