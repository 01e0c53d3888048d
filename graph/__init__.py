"""twinql graph package."""
