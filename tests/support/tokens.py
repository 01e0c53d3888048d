"""The bearer tokens of the served app under test (``tests.support.app``), one per role."""

__all__ = ["ADMIN", "INGEST", "OPERATOR", "SCOPED_ENGINEER", "TOKENS", "VIEWER"]

ADMIN = "admin-token-0123456789abcdef"
OPERATOR = "operator-token-0123456789abcdef"
VIEWER = "viewer-token-0123456789abcdef"
INGEST = "ingest-token-0123456789abcdef"
SCOPED_ENGINEER = "scoped-engineer-token-0123456789"  # may operate below "elsewhere" only

# the app's TWINQL_TOKENS: token:role:user[:subtree]
TOKENS = (
    f"{ADMIN}:admin:alice,{OPERATOR}:operator:olga,{VIEWER}:viewer:vic,"
    f"{INGEST}:ingest:dev,{SCOPED_ENGINEER}:engineer:sam:elsewhere"
)
