"""Work orders in GraphQL: the ``workOrders`` query and ``updateWorkOrder``."""
