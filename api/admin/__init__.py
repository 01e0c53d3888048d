"""Administration over GraphQL: API keys (``createApiKey``, ``apiKeys``, ``revokeApiKey``)
and the audit log of mutations (``auditLog``); admins only."""
