"""The readings path: connectors (``connectors/``), validation, batching and the live bus
(``pipeline/``), the readings stores (``store/``) and the connector manager."""
