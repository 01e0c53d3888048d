"""The suite's fixtures, registered once: each lives in the tests/support module that owns
it (the graph server, brokers, devices, stores, the served app). The lint plugin checks
every Cypher and QuestDB statement the tests sent when the session ends.
"""

pytest_plugins = [
    "tests.lint.plugin",
    "tests.support.graph",
    "tests.support.broker",
    "tests.support.devices",
    "tests.support.stores",
    "tests.support.app",
    "tests.support.disk",
]
