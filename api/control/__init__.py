"""api.control."""
