"""twinql's API layer, the outermost ring; nothing imports it.

- ``app``, ``cli``, ``settings``, ``context``, ``errors``, ``limits``, ``permissions``,
  ``schema``: the host (the ASGI app, the CLI, settings read once, the per-request
  context, coded errors, query limits, roles on fields, the merged schema);
- ``services/``: the application layer (no strawberry, no starlette): the typed container,
  auth and scopes, the registry, control (setpoints), alerting, simulation jobs;
- ``assets/ readings/ control/ alerts/ simulation/ live/ status/``: GraphQL per capability
  (types, loaders, resolvers), ``common/`` their shared scalars and connections;
- ``demo/``: the example plant and its simulated devices (``twinql demo``).
"""
