"""api.assets."""
