"""Cypher statements, one module per aggregate, as named constants."""
