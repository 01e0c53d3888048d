"""GraphQL of alerts: alert types, the alert queries, acknowledgement and the alerts subscription."""
