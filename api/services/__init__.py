"""The application layer: what twinql does, without GraphQL or HTTP (no strawberry, no
starlette here).

``container`` builds every service in one async context manager and yields the frozen,
typed ``Services``; each service takes the narrow things it uses. ``auth`` (tokens, roles,
subtree scopes), ``registry`` (registry writes and their change notices), ``control``
(setpoints), ``alerting`` (alert rules over the live bus), ``simulation/`` (runs, inputs,
records, studies, jobs).
"""
