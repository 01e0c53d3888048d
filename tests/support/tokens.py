"""The bearer tokens of the served app under test (``tests.support.app``), one per role."""

__all__ = [
    "ADMIN",
    "INGEST",
    "OPERATOR",
    "SCOPED_ENGINEER",
    "SITE_A",
    "TOKENS",
    "VIEWER",
    "VIEWER_A",
    "ENGINEER_A",
    "ADMIN_A",
]

ADMIN = "admin-token-0123456789abcdef"
OPERATOR = "operator-token-0123456789abcdef"
VIEWER = "viewer-token-0123456789abcdef"
INGEST = "ingest-token-0123456789abcdef"
SCOPED_ENGINEER = "scoped-engineer-token-0123456789"  # may operate below "elsewhere" only
SITE_A = "scope-a-site"  # the asset whose subtree VIEWER_A sees (pump_line("scope-a"))
VIEWER_A = "viewer-of-site-a-token-012345678"  # a viewer of SITE_A only
ENGINEER_A = "engineer-of-site-a-token-0123456"  # an engineer of SITE_A only
ADMIN_A = "admin-of-site-a-token-0123456789"  # an admin of SITE_A only

# the app's TWINQL_TOKENS: token:role:user[:subtree]
TOKENS = (
    f"{ADMIN}:admin:alice,{OPERATOR}:operator:olga,{VIEWER}:viewer:vic,"
    f"{INGEST}:ingest:dev,{SCOPED_ENGINEER}:engineer:sam:elsewhere,"
    f"{VIEWER_A}:viewer:ava:{SITE_A},{ENGINEER_A}:engineer:eve:{SITE_A},"
    f"{ADMIN_A}:admin:ada:{SITE_A}"
)
