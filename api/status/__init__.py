"""Operator status: the snapshot of counters, its GraphQL type and its Prometheus exposition."""
