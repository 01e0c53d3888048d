"""Health assessments in the knowledge graph: saved in batches, read back as the latest
per asset (one statement for many assets) or as a paginated history.

``(:Asset)-[:ASSESSED]->(:HealthAssessment {id, at, asOf, healthIndex, anomalyScore,
rulHours, rulLow, rulHigh, confidence, method, windowFrom, windowTo, unknownReason,
contributions})``; ``contributions`` is JSON text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from graph.bolt.client import GraphClient, Tx
from graph.bolt.cypher import assets as qa
from graph.bolt.cypher import health as q
from graph.errors import Conflict, NotFound, ValidationError
from graph.health import HealthAssessment
from graph.timeutil import iso, parse_iso

__all__ = ["AssessmentPage", "HealthRepository", "assessment_key"]

MAX_PAGE = 500
Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class AssessmentPage:
    items: list[HealthAssessment]
    has_next: bool


def assessment_key(h: HealthAssessment) -> tuple[str, str]:
    """The keyset cursor of an assessment in newest-first order: (asOf as stored, id)."""
    return (iso(h.as_of) or "", h.id)


def assessment_row(h: HealthAssessment) -> Row:
    return {
        "id": h.id,
        "assetId": h.asset_id,
        "at": iso(h.at),
        "asOf": iso(h.as_of),
        "method": h.method,
        "healthIndex": h.health_index,
        "anomalyScore": h.anomaly_score,
        "rulHours": h.rul_hours,
        "rulLow": h.rul_low,
        "rulHigh": h.rul_high,
        "confidence": h.confidence,
        "windowFrom": iso(h.window_from),
        "windowTo": iso(h.window_to),
        "unknownReason": h.unknown_reason,
        "contributions": json.dumps(h.contributions, sort_keys=True, separators=(",", ":")),
    }


def assessment_from(r: Row) -> HealthAssessment:
    at, as_of = parse_iso(r["at"]), parse_iso(r["asOf"])
    assert at is not None and as_of is not None
    return HealthAssessment(
        id=r["id"],
        asset_id=r["assetId"],
        at=at,
        as_of=as_of,
        method=r["method"],
        health_index=r.get("healthIndex"),
        anomaly_score=r.get("anomalyScore"),
        rul_hours=r.get("rulHours"),
        rul_low=r.get("rulLow"),
        rul_high=r.get("rulHigh"),
        confidence=r.get("confidence"),
        window_from=parse_iso(r.get("windowFrom")),
        window_to=parse_iso(r.get("windowTo")),
        unknown_reason=r.get("unknownReason"),
        contributions=json.loads(r["contributions"]) if r.get("contributions") else {},
    )


class HealthRepository:
    def __init__(self, client: GraphClient) -> None:
        self._client = client

    async def save(self, assessments: Sequence[HealthAssessment]) -> None:
        """Store assessments (upsert by id), all in one transaction. NOT_FOUND for an
        unknown asset, CONFLICT for an id already stored for another asset."""
        if not assessments:
            return

        async def work(tx: Tx) -> None:
            await self.save_in(tx, assessments)

        await self._client.write_tx(work)

    async def save_in(self, tx: Tx, assessments: Sequence[HealthAssessment]) -> None:
        """``save`` in the caller's transaction (opening a work order alongside)."""
        rows = [assessment_row(h) for h in assessments]
        ids = sorted({h.asset_id for h in assessments})
        found = {r["id"] for r in await tx.rows(qa.GET_ASSETS, ids=ids)}
        if missing := [i for i in ids if i not in found]:
            raise NotFound(f"asset(s) not found: {', '.join(missing[:20])}")
        if clashes := await tx.batched_rows(q.OWNED_ELSEWHERE, rows):
            named = "; ".join(f"{c['id']} belongs to {c['owner']}" for c in clashes[:5])
            raise Conflict(f"assessment id(s) already stored for another asset: {named}")
        await tx.batched_rows(q.SAVE_ASSESSMENTS, rows)

    async def latest(
        self, asset_ids: Iterable[str], until: datetime | None = None
    ) -> dict[str, HealthAssessment | None]:
        """Each asset's latest assessment (by asOf, at or before ``until`` when given);
        None for assets never assessed. One statement for all the assets."""
        ids = list(dict.fromkeys(asset_ids))
        out: dict[str, HealthAssessment | None] = dict.fromkeys(ids)
        if ids:
            for r in await self._client.read(q.LATEST_OF_ASSETS, ids=ids, until=iso(until)):
                out[r["assetId"]] = assessment_from(r)
        return out

    async def get(self, assessment_id: str) -> HealthAssessment:
        rows = await self._client.read(q.GET_ASSESSMENTS, ids=[assessment_id])
        if not rows:
            raise NotFound(f"health assessment {assessment_id} not found")
        return assessment_from(rows[0])

    async def history(
        self,
        asset_id: str,
        limit: int = 50,
        after: tuple[str, str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> AssessmentPage:
        """An asset's assessments newest first (by asOf, then id), asOf in [since, until),
        ``limit`` of them after the cursor ``after`` (``assessment_key`` of the last)."""
        if not 1 <= limit <= MAX_PAGE:
            raise ValidationError(f"limit must be between 1 and {MAX_PAGE}, got {limit}")
        after_at, after_id = after or (None, None)
        rows = await self._client.read(
            q.HISTORY_PAGE,
            assetId=asset_id,
            since=iso(since),
            until=iso(until),
            afterAt=after_at,
            afterId=after_id,
            limit=limit + 1,
        )
        found = [assessment_from(r) for r in rows]
        return AssessmentPage(items=found[:limit], has_next=len(found) > limit)
