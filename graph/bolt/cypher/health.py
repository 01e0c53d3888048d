"""Health assessments: ``(:Asset)-[:ASSESSED]->(:HealthAssessment)``.

Times are fixed-width UTC text (string order is time order); ``contributions`` is a
JSON string (Neo4j stores no maps). "Latest" is by ``asOf`` (the data an assessment
saw), then ``at``, then id: a backtest computed today for last year is not the latest.
"""

from typing import LiteralString

_FIELDS: LiteralString = (
    "h.id AS id, a.id AS assetId, h.at AS at, h.asOf AS asOf, h.method AS method, "
    "h.healthIndex AS healthIndex, h.anomalyScore AS anomalyScore, h.rulHours AS rulHours, "
    "h.rulLow AS rulLow, h.rulHigh AS rulHigh, h.confidence AS confidence, "
    "h.windowFrom AS windowFrom, h.windowTo AS windowTo, h.unknownReason AS unknownReason, "
    "h.contributions AS contributions"
)

# MERGE by id: a retried write after an unknown outcome stores nothing twice.
SAVE_ASSESSMENTS: LiteralString = (
    "UNWIND $rows AS r "
    "MATCH (a:Asset {id: r.assetId}) "
    "MERGE (h:HealthAssessment {id: r.id}) "
    "SET h.assetId = r.assetId, h.at = r.at, h.asOf = r.asOf, h.method = r.method, "
    "h.healthIndex = r.healthIndex, h.anomalyScore = r.anomalyScore, "
    "h.rulHours = r.rulHours, h.rulLow = r.rulLow, h.rulHigh = r.rulHigh, "
    "h.confidence = r.confidence, h.windowFrom = r.windowFrom, h.windowTo = r.windowTo, "
    "h.unknownReason = r.unknownReason, h.contributions = r.contributions "
    "MERGE (a)-[:ASSESSED]->(h) "
    "RETURN h.id AS id"
)
# Ids already stored for another asset: an assessment belongs to one asset.
OWNED_ELSEWHERE: LiteralString = (
    "UNWIND $rows AS r "
    "MATCH (h:HealthAssessment {id: r.id})<-[:ASSESSED]-(a:Asset) "
    "WHERE a.id <> r.assetId "
    "RETURN h.id AS id, a.id AS owner, r.assetId AS asked LIMIT 20"
)
LATEST_OF_ASSETS: LiteralString = (
    "UNWIND $ids AS aid "
    "MATCH (a:Asset {id: aid})-[:ASSESSED]->(h:HealthAssessment) "
    "WHERE $until IS NULL OR h.asOf <= $until "
    "WITH a, h ORDER BY h.asOf DESC, h.at DESC, h.id DESC "
    "WITH a, collect(h)[0] AS h "
    "RETURN " + _FIELDS
)
# Newest first by (asOf, id) keyset, within [$since, $until).
HISTORY_PAGE: LiteralString = (
    "MATCH (a:Asset {id: $assetId})-[:ASSESSED]->(h:HealthAssessment) "
    "WHERE ($since IS NULL OR h.asOf >= $since) AND ($until IS NULL OR h.asOf < $until) "
    "AND ($afterAt IS NULL OR h.asOf < $afterAt OR (h.asOf = $afterAt AND h.id < $afterId)) "
    "RETURN " + _FIELDS + " ORDER BY h.asOf DESC, h.id DESC LIMIT $limit"
)
GET_ASSESSMENTS: LiteralString = (
    "UNWIND $ids AS hid "
    "MATCH (h:HealthAssessment {id: hid})<-[:ASSESSED]-(a:Asset) "
    "RETURN " + _FIELDS
)
