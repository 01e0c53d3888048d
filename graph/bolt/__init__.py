"""graph.bolt."""
