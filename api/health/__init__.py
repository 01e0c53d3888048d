"""Health in GraphQL: assessments (health index, anomaly score, RUL), anomaly models."""
