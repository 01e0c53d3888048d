"""GraphQL subscriptions of live data: readings, asset events, setpoint outcomes."""
