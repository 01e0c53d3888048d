"""Rate limits per token: token buckets on mutations and on ``POST /ingest``.

Each caller (an API key by its id, a ``TWINQL_TOKENS`` token by its name) has a bucket
per kind holding up to ``burst`` tokens, refilled at ``rate`` per second. A mutation
operation takes one per root field, a ``POST /ingest`` one per request; an empty bucket
refuses with ``RateLimited`` (``RATE_LIMITED`` in GraphQL with ``retryAfter`` seconds,
HTTP 429 with ``Retry-After`` on ``/ingest``) and takes nothing. A rate of 0 turns the
kind off. Callers without a token have no bucket: they are refused before any work.
Buckets live in this process (several instances each allow the rate).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from api.settings import Rate
from graph.errors import RateLimited

__all__ = ["RateLimits", "TokenBuckets"]


class TokenBuckets:
    def __init__(
        self,
        rate: float,
        burst: float,
        what: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self.what = what
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # who -> (tokens, at)

    def take(self, who: str, n: int = 1) -> None:
        """Take ``n`` tokens of ``who``'s bucket, or raise ``RateLimited`` taking none."""
        if self.rate <= 0:
            return
        now = self._clock()
        tokens, at = self._buckets.get(who, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        if tokens < n:
            self._buckets[who] = (tokens, now)
            wait = (min(n, self.burst) - tokens) / self.rate
            raise RateLimited(
                f"too many {self.what} for {who}: at most {self.rate:g} a second "
                f"(bursts of {self.burst:g}); retry in {wait:.2f} s",
                retry_after=wait,
            )
        self._buckets[who] = (tokens - n, now)


@dataclass(frozen=True, slots=True)
class RateLimits:
    mutations: TokenBuckets
    ingest: TokenBuckets

    @classmethod
    def of(cls, mutations: Rate, ingest: Rate) -> RateLimits:
        return cls(
            TokenBuckets(mutations.per_second, mutations.burst, what="mutations"),
            TokenBuckets(ingest.per_second, ingest.burst, what="ingest requests"),
        )
