"""GraphQL of the knowledge graph: asset, sensor, actuator and data-source types, their
inputs, cursor pages, graph queries (hierarchy, impact, root causes, paths) and registry
mutations."""
