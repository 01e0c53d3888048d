"""Anomaly models in the knowledge graph: the record of each trained detector (its
version, training window, metrics and artifact path); the artifact itself is a file in
the data directory, written by whoever trained it.

``save`` gives the model the asset's next version (1, 2, ...), race-safe: two concurrent
saves for one asset get two different versions (see ``graph.bolt.cypher.anomaly``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from graph.bolt.client import GraphClient, Tx
from graph.bolt.cypher import anomaly as q
from graph.errors import NotFound, ValidationError
from graph.health import AnomalyModel
from graph.timeutil import iso, parse_iso, utcnow

__all__ = ["AnomalyModelRepository"]

MAX_LIST = 500


def _model_from(r: dict[str, Any]) -> AnomalyModel:
    trained_from, trained_to = parse_iso(r["trainedFrom"]), parse_iso(r["trainedTo"])
    created = parse_iso(r["createdAt"])
    assert trained_from is not None and trained_to is not None and created is not None
    return AnomalyModel(
        id=r["id"],
        asset_id=r["assetId"],
        version=int(r["version"]),
        trained_from=trained_from,
        trained_to=trained_to,
        created_at=created,
        artifact=r["artifact"],
        metrics=json.loads(r["metrics"]) if r.get("metrics") else {},
    )


class AnomalyModelRepository:
    def __init__(self, client: GraphClient) -> None:
        self._client = client

    async def save(
        self,
        asset_id: str,
        trained_from: datetime,
        trained_to: datetime,
        artifact: str,
        metrics: Mapping[str, object] | None = None,
        *,
        model_id: str | None = None,
        created_at: datetime | None = None,
    ) -> AnomalyModel:
        """Record a trained model as the asset's next version; returns it with its id
        (``am-<hex>`` unless given) and version. NOT_FOUND for an unknown asset."""
        draft = AnomalyModel(
            id=model_id or f"am-{uuid.uuid4().hex}",
            asset_id=asset_id,
            version=1,
            trained_from=trained_from,
            trained_to=trained_to,
            created_at=created_at or utcnow(),
            artifact=artifact,
            metrics=dict(metrics or {}),
        )
        try:
            metrics_text = json.dumps(draft.metrics, sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"anomaly model metrics must be JSON: {exc}") from None

        async def work(tx: Tx) -> AnomalyModel:
            if not await tx.rows(q.LOCK_ASSET, assetId=asset_id, token=uuid.uuid4().hex):
                raise NotFound(f"asset {asset_id} not found")
            (top,) = await tx.rows(q.TOP_VERSION, assetId=asset_id)
            (row,) = await tx.rows(
                q.CREATE_MODEL,
                assetId=asset_id,
                id=draft.id,
                version=int(top["version"] or 0) + 1,
                trainedFrom=iso(draft.trained_from),
                trainedTo=iso(draft.trained_to),
                createdAt=iso(draft.created_at),
                metrics=metrics_text,
                artifact=draft.artifact,
            )
            return _model_from(row)

        return await self._client.write_tx(work)

    async def latest(self, asset_ids: Iterable[str]) -> dict[str, AnomalyModel | None]:
        """Each asset's highest version; None where no model was trained."""
        ids = list(dict.fromkeys(asset_ids))
        out: dict[str, AnomalyModel | None] = dict.fromkeys(ids)
        if ids:
            for r in await self._client.read(q.LATEST_OF_ASSETS, ids=ids):
                out[r["assetId"]] = _model_from(r)
        return out

    async def get(self, model_id: str) -> AnomalyModel:
        rows = await self._client.read(q.GET_MODEL, id=model_id)
        if not rows:
            raise NotFound(f"anomaly model {model_id} not found")
        return _model_from(rows[0])

    async def list(self, asset_id: str | None = None, limit: int = 100) -> list[AnomalyModel]:
        """Models newest first, of one asset or of all."""
        if not 1 <= limit <= MAX_LIST:
            raise ValidationError(f"limit must be between 1 and {MAX_LIST}, got {limit}")
        rows = await self._client.read(q.LIST_MODELS, assetId=asset_id, limit=limit)
        return [_model_from(r) for r in rows]
