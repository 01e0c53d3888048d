"""Nothing half-written: the database's own uniqueness constraints hold on ArcadeDB, and
an import that the database refuses part-way leaves nothing of the plant behind."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import LiteralString

import pytest

from graph.bolt.client import GraphClient
from graph.bolt.cypher import schema as schema_cypher
from graph.bolt.embedded import EmbeddedGraphServer
from graph.bolt.importer import import_plant
from graph.bolt.repository import GraphRepository
from graph.bolt.settings import EmbeddedGraphSettings
from graph.errors import Conflict
from graph.plantfile import parse_plant

# One CREATE per label with a uniqueness constraint on id (labels cannot be parameters).
CREATE_BY_LABEL: dict[str, LiteralString] = {
    "Asset": "CREATE (n:Asset {id: $id})",
    "Sensor": "CREATE (n:Sensor {id: $id})",
    "Actuator": "CREATE (n:Actuator {id: $id})",
    "DataSource": "CREATE (n:DataSource {id: $id})",
    "MaintenanceEvent": "CREATE (n:MaintenanceEvent {id: $id})",
    "WorkOrder": "CREATE (n:WorkOrder {id: $id})",
    "SetpointCommand": "CREATE (n:SetpointCommand {id: $id})",
    "SimulationRun": "CREATE (n:SimulationRun {id: $id})",
    "HealthAssessment": "CREATE (n:HealthAssessment {id: $id})",
    "Alert": "CREATE (n:Alert {id: $id})",
    "AnomalyModel": "CREATE (n:AnomalyModel {id: $id})",
    "Job": "CREATE (n:Job {id: $id})",
}
DELETE_BY_ID: LiteralString = "MATCH (n {id: $id}) DETACH DELETE n"


def test_every_constraint_is_covered() -> None:
    constrained = {
        stmt.split("(n:")[1].split(")")[0] for stmt in schema_cypher.ALL if "IS UNIQUE" in stmt
    }
    assert constrained == set(CREATE_BY_LABEL)


@pytest.mark.parametrize("label", sorted(CREATE_BY_LABEL))
async def test_uniqueness_is_enforced_by_the_database(
    repo: GraphRepository, uid: str, label: str
) -> None:
    node_id = f"{uid}-{label}"
    await repo.client.write(CREATE_BY_LABEL[label], id=node_id)
    try:
        with pytest.raises(Conflict):
            await repo.client.write(CREATE_BY_LABEL[label], id=node_id)
    finally:
        await repo.client.write(DELETE_BY_ID, id=node_id)


# A constraint a deployment may add (one connection per device endpoint): the parser
# knows nothing of it, only the database does. It lives on a server of its own, so the
# shared test server keeps the project's schema.
UNIQUE_ENDPOINT: LiteralString = (
    "CREATE CONSTRAINT datasource_endpoint IF NOT EXISTS "
    "FOR (n:DataSource) REQUIRE n.endpoint IS UNIQUE"
)
COUNT_PLANT: LiteralString = "MATCH (n) WHERE n.id STARTS WITH $prefix RETURN count(n) AS n"


@pytest.fixture(scope="module")
async def strict_repo(
    tmp_path_factory: pytest.TempPathFactory, cypher_log: Path
) -> AsyncIterator[GraphRepository]:
    data = tmp_path_factory.mktemp("strict-graph")
    async with EmbeddedGraphServer(EmbeddedGraphSettings(data_dir=data, heap="512m")) as server:
        async with GraphClient(server.graph_settings(record_statements_to=cypher_log)) as c:
            repo = GraphRepository(c)
            await repo.ensure_schema()
            await c.write(UNIQUE_ENDPOINT)
            yield repo


PLANT = """
name: half-written {u}
assets:
  - id: {u}-site
    type: site
    level: site
    children:
      - id: {u}-pump
        type: pump
        level: equipment
        sensors: [{{id: {u}-pt, kind: pressure, unit: bar, min_value: 0, max_value: 16}}]
        actuators: [{{id: {u}-sp, unit: rpm, min_value: 0, max_value: 3000}}]
relations: []
data_sources:
  - {{id: {u}-mb1, protocol: modbus, endpoint: "modbus://127.0.0.1:5020?unit=1",
      bindings: [{{sensor: {u}-pt, address: "hr:0"}}]}}
  - {{id: {u}-mb2, protocol: modbus, endpoint: "{endpoint}",
      bindings: [{{actuator: {u}-sp, address: "hr:10"}}]}}
maintenance:
  - {{id: {u}-m1, asset: {u}-pump, kind: inspection, at: "2025-01-02T03:04:05Z"}}
"""


async def test_an_import_refused_part_way_leaves_nothing(
    strict_repo: GraphRepository, uid: str
) -> None:
    # Both sources share an endpoint: the assets, sensors and actuators are written
    # before the data sources, whose write breaks the database's constraint.
    clash = parse_plant(PLANT.format(u=uid, endpoint="modbus://127.0.0.1:5020?unit=1"))
    with pytest.raises(Conflict) as err:
        await import_plant(strict_repo, clash)
    assert "endpoint" in err.value.message  # refused by the DataSource write, not before
    rows = await strict_repo.client.read(COUNT_PLANT, prefix=uid)
    assert rows == [{"n": 0}]
    # The same plant with distinct endpoints imports whole.
    fine = parse_plant(PLANT.format(u=uid, endpoint="modbus://127.0.0.1:5021?unit=1"))
    report = await import_plant(strict_repo, fine)
    kinds = ("assets", "sensors", "actuators", "data_sources", "maintenance")
    written = sum(report.counts[k] for k in kinds)
    assert await strict_repo.client.read(COUNT_PLANT, prefix=uid) == [{"n": written}]
