"""api.services.simulation."""
