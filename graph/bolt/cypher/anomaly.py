"""Anomaly models: ``(:AnomalyModel {id, assetId, version, trainedFrom, trainedTo,
createdAt, metrics, artifact})-[:MODELS]->(:Asset)``.

Saving takes the next version (previous + 1) race-safely: the transaction first writes
the asset node (``LOCK_ASSET``), serialising concurrent saves for that asset, then reads
the highest version and creates the next.
"""

from typing import LiteralString

_FIELDS: LiteralString = (
    "m.id AS id, a.id AS assetId, m.version AS version, m.trainedFrom AS trainedFrom, "
    "m.trainedTo AS trainedTo, m.createdAt AS createdAt, m.metrics AS metrics, "
    "m.artifact AS artifact"
)

LOCK_ASSET: LiteralString = (
    "MATCH (a:Asset {id: $assetId}) SET a.anomalyModelLock = $token RETURN a.id AS id"
)
TOP_VERSION: LiteralString = (
    "MATCH (a:Asset {id: $assetId}) "
    "OPTIONAL MATCH (m:AnomalyModel)-[:MODELS]->(a) "
    "RETURN max(m.version) AS version"
)
CREATE_MODEL: LiteralString = (
    "MATCH (a:Asset {id: $assetId}) "
    "CREATE (m:AnomalyModel {id: $id, assetId: $assetId, version: $version, "
    "trainedFrom: $trainedFrom, trainedTo: $trainedTo, createdAt: $createdAt, "
    "metrics: $metrics, artifact: $artifact}) "
    "CREATE (m)-[:MODELS]->(a) "
    "RETURN " + _FIELDS
)
LATEST_OF_ASSETS: LiteralString = (
    "UNWIND $ids AS aid "
    "MATCH (a:Asset {id: aid})<-[:MODELS]-(m:AnomalyModel) "
    "WITH a, m ORDER BY m.version DESC "
    "WITH a, collect(m)[0] AS m "
    "RETURN " + _FIELDS
)
# Newest first (per asset by version); $assetId null: every asset's.
LIST_MODELS: LiteralString = (
    "MATCH (m:AnomalyModel)-[:MODELS]->(a:Asset) "
    "WHERE $assetId IS NULL OR a.id = $assetId "
    "RETURN " + _FIELDS + " ORDER BY m.createdAt DESC, a.id, m.version DESC LIMIT $limit"
)
GET_MODEL: LiteralString = (
    "MATCH (m:AnomalyModel {id: $id})-[:MODELS]->(a:Asset) RETURN " + _FIELDS
)
