"""Long analytics jobs in GraphQL: the ``Job`` type, ``job``/``jobs``, ``cancelJob``, ``jobProgress``."""
