"""What tests share, one home per concern; import from the submodule that owns a name.

- ``polling``: ``eventually`` (async) and ``eventually_sync``, the one way to wait.
- ``net``: ``free_port``, ``wait_port``, ``TcpProxy`` (a network path tests can cut).
- ``broker``: mosquitto brokers (plain, TLS) and their fixtures.
- ``devices``: asyncua and pymodbus device servers (and a raw Modbus server) and fixtures.
- ``graph``: the session's embedded Bolt graph server, client, repository; ``uid``.
- ``stores``: a readings store per backend (``store`` fixture).
- ``tokens``: the bearer tokens the served app accepts.
- ``app``: the real ASGI app under uvicorn (``api`` fixture, ``Api``, ``app_settings``).
- ``disk``: ``small_disk``, a real small tmpfs a test can fill and free.
- ``plant``: ``Plant``, a builder of test plants, and ``register(api, plant)``.
- ``serving``: ``twinql serve`` as a child process.
- ``wsclient``: a GraphQL-over-WebSocket client.
- ``jobs``: following a long job (``finished``, ``progress``) through the API.

The fixtures are registered for the whole suite by ``pytest_plugins`` in tests/conftest.py;
test modules request them by name and import only classes and helpers.
"""
