"""api.simulation."""
