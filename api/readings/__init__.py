"""api.readings."""
