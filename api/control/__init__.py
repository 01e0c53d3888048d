"""GraphQL of control: ``writeSetpoint``, setpoint commands and data-source status (the
procedure is ``api.services.control``)."""
