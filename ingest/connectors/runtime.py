"""The lifecycle every connector shares: one supervised task, status, sink calls, backoff."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from abc import ABC, abstractmethod
from dataclasses import replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from graph.errors import ValidationError
from graph.model import ActuatorBinding, DataSource, DeviceProtocol
from graph.timeutil import utcnow
from ingest.connectors.base import (
    Bindings,
    ConnectorState,
    ConnectorStatus,
    DeadLetter,
    ErrorSink,
    Sink,
    WriteOutcome,
    log_dead_letter,
)
from ingest.reading import RawReading

__all__ = ["Backoff", "ConnectorBase", "raise_if_cancelled"]

_log = logging.getLogger("twinql.ingest.connectors")
_CLOSE_TIMEOUT_S = 10.0


def raise_if_cancelled() -> None:
    """Raise CancelledError if the current task's cancellation was requested.

    A cancellation that lands inside some calls is swallowed: asyncua 2.1 awaits its
    helper tasks under ``except (CancelledError, Exception): pass`` (``Client._cancel_task``,
    on every ``disconnect``), and Python 3.11's ``asyncio.wait_for``, which the client
    libraries use, returns the result instead of raising when its inner future finished
    in the same loop turn as the cancel. A connector cancelled at such a moment would
    carry on polling or reconnecting and ``aclose`` would wait for ever. A requested
    cancel stays counted by ``Task.cancelling()`` whatever a callee did with the
    exception, so every connector loop checks it on each turn and before each backoff.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class Backoff:
    """Exponential backoff with jitter: ``initial * 2**n`` capped at ``maximum``."""

    def __init__(self, initial: float, maximum: float, *, jitter: float = 0.1) -> None:
        if initial <= 0 or maximum < initial:
            raise ValidationError("backoff needs 0 < initial <= maximum")
        self.initial = initial
        self.maximum = maximum
        self.jitter = jitter
        self._attempt = 0

    def reset(self) -> None:
        self._attempt = 0

    def next_delay(self) -> float:
        delay = min(self.maximum, self.initial * (2**self._attempt))
        self._attempt = min(self._attempt + 1, 32)
        return delay * (1 + random.uniform(0, self.jitter))


class ConnectorBase(ABC):
    """Start/stop, status tracking and sink plumbing; subclasses implement ``_run``."""

    protocol: DeviceProtocol

    def __init__(
        self,
        source: DataSource,
        bindings: Bindings,
        sink: Sink,
        *,
        on_error: ErrorSink | None = None,
    ) -> None:
        if source.protocol is not self.protocol:
            raise ValidationError(
                f"{type(self).__name__} cannot serve a {source.protocol} data source"
            )
        bindings.check_source(source.id)
        self._source = source
        self._bindings = bindings
        self._sink = sink
        self._on_error = on_error or log_dead_letter
        # Set by a connector that acknowledges: the durability futures of what it emits.
        self._awaiting: list[asyncio.Future[None]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._status = ConnectorStatus(
            source_id=source.id,
            protocol=source.protocol.value,
            endpoint=source.endpoint,
            state=ConnectorState.DISCONNECTED,
        )
        self._logged: tuple[ConnectorState, str | None] | None = None
        # Per-message counters, kept as plain numbers (a frozen status copied per
        # message cost more than handling it) and folded into ``status()``.
        self._n_messages = 0
        self._n_readings = 0
        self._last_value_s: float | None = None

    # ---- lifecycle -------------------------------------------------------------------

    @property
    def source(self) -> DataSource:
        return self._source

    @property
    def bindings(self) -> Bindings:
        return self._bindings

    async def start(self) -> None:
        """Start the background loop; connection problems show in ``status()``."""
        if self._task is not None and not self._task.done():
            return
        self._set_state(ConnectorState.CONNECTING)
        self._task = asyncio.create_task(self._supervise(), name=f"connector:{self._source.id}")

    async def aclose(self) -> None:
        """Stop the loop and close the connection; idempotent, bounded in time."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=_CLOSE_TIMEOUT_S)
            if done:
                with contextlib.suppress(asyncio.CancelledError):
                    task.result()
            else:  # a bug, ours or a library's: say so rather than hang the shutdown
                _log.error(
                    "connector %s did not stop within %.0f s of its cancel; left behind: %r",
                    self._source.id,
                    _CLOSE_TIMEOUT_S,
                    task,
                )
        await self._on_stopped()
        self._connected.clear()
        self._set_state(ConnectorState.DISCONNECTED, connected_since=None)

    async def reconfigure(self, bindings: Bindings) -> None:
        """Swap the bindings: stop, replace, start again (only if it was running)."""
        bindings.check_source(self._source.id)
        running = self._task is not None
        await self.aclose()
        self._bindings = bindings
        if running:
            await self.start()

    def status(self) -> ConnectorStatus:
        st = self._status
        if not (self._n_messages or self._n_readings):
            return st
        last = st.last_value_at
        if self._last_value_s is not None:
            last = datetime.fromtimestamp(self._last_value_s, UTC)
        return replace(
            st,
            messages=st.messages + self._n_messages,
            readings=st.readings + self._n_readings,
            last_value_at=last,
        )

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def wait_connected(self, within: float) -> bool:
        """True once connected (waiting at most ``within`` seconds)."""
        try:
            async with asyncio.timeout(within):  # not wait_for: see raise_if_cancelled
                await self._connected.wait()
        except TimeoutError:
            return False
        return True

    async def _supervise(self) -> None:
        """Run ``_run``; an unexpected error restarts it after a backoff, never for good.

        ``_run`` handles the errors it expects (lost connections, timeouts) itself. Any
        other exception is a bug or a device doing something nobody foresaw: it is logged
        with its traceback, shown in the status (``state=error``, ``last_error``, counted
        in ``errors`` and ``restarts``) and ``_run`` starts again after the backoff. A run
        that lasted longer than the longest delay resets the backoff.
        """
        backoff = self._restart_backoff()
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                await self._run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if loop.time() - started > backoff.maximum:
                    backoff.reset()
                delay = backoff.next_delay()
                _log.exception(
                    "connector %s failed unexpectedly; restarting in %.1fs",
                    self._source.id,
                    delay,
                )
                self._record_error(
                    f"connector restarting after an unexpected error: {exc!r}",
                    state=ConnectorState.ERROR,
                )
                self._count(restarts=1)
            else:
                return  # _run chose to end (no connector does today)
            await self._back_off(delay)

    async def _back_off(self, delay: float) -> None:
        """Wait ``delay`` seconds before the next attempt, unless cancelled meanwhile
        (even if a library call swallowed that cancellation: ``raise_if_cancelled``)."""
        raise_if_cancelled()
        await asyncio.sleep(delay)

    def _restart_backoff(self) -> Backoff:
        """Delays between restarts after unexpected errors (subclasses use their settings)."""
        return Backoff(1.0, 60.0)

    @abstractmethod
    async def _run(self) -> None:
        """Connect, read until cancelled, reconnect with backoff on failures."""

    async def _on_stopped(self) -> None:  # noqa: B027 - optional hook
        """Release what ``_run`` left behind after cancellation."""

    async def forget_session(self) -> None:  # noqa: B027 - optional hook
        """The data source was deleted (the connector is stopped): drop what is kept
        for the next process (the MQTT session memo)."""

    @abstractmethod
    async def write(self, binding: ActuatorBinding, value: float) -> WriteOutcome: ...

    # ---- status ----------------------------------------------------------------------

    def _set_state(self, state: ConnectorState, **changes: object) -> None:
        if state is ConnectorState.CONNECTED:
            self._connected.set()
            changes.setdefault("connected_since", utcnow())
        else:
            self._connected.clear()
        self._status = replace(self._status, state=state, **changes)  # type: ignore[arg-type]
        self._log_state()

    def _log_state(self) -> None:
        """One log line per change of state: connected, disconnected, or a failure with
        its reason. A dead device retried with backoff logs its error once, not once per
        attempt; the next line comes when it connects or fails differently. Attempts
        (``connecting``) log at debug only."""
        state = self._status.state
        if state is ConnectorState.CONNECTING:
            _log.debug("data source %s: connecting", self._source.id)
            return
        key = (state, self._status.last_error if state is ConnectorState.ERROR else None)
        if key == self._logged:
            return
        self._logged = key
        if state is ConnectorState.CONNECTED:
            _log.info("data source %s: connected", self._source.id)
        elif state is ConnectorState.ERROR:
            _log.warning(
                "data source %s: %s (retrying with backoff; status in dataSources)",
                self._source.id,
                self._status.last_error,
            )
        else:
            _log.info("data source %s: %s", self._source.id, state.value)

    def _count(self, **deltas: int) -> None:
        changes = {k: getattr(self._status, k) + v for k, v in deltas.items()}
        self._status = replace(self._status, **changes)

    def _record_error(self, message: str, *, state: ConnectorState | None = None) -> None:
        self._status = replace(
            self._status,
            last_error=message,
            last_error_at=utcnow(),
            errors=self._status.errors + 1,
        )
        if state is not None:
            self._set_state(state)

    def _note_reconnect(self) -> None:
        self._count(reconnects=1)

    def _write_done(self, outcome: WriteOutcome) -> WriteOutcome:
        self._count(writes=1, write_failures=0 if outcome.ok else 1)
        if not outcome.ok:
            self._status = replace(
                self._status, last_error=f"write: {outcome.message}", last_error_at=utcnow()
            )
        return outcome

    # ---- output ----------------------------------------------------------------------

    async def _emit(self, readings: list[RawReading]) -> None:
        """Hand one batch to the sink; a failing sink is recorded, never fatal."""
        self._n_messages += 1
        if not readings:
            return
        try:
            durable = await self._sink(readings)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raw = json.dumps([_reading_row(r) for r in readings], default=str)
            await self._dead_letter(
                DeadLetter(self._source.id, raw, f"sink rejected {len(readings)} readings: {exc!r}")
            )
            return
        if durable is not None and self._awaiting is not None:
            self._awaiting.append(durable)
        self._n_readings += len(readings)
        self._last_value_s = time.time()

    async def _dead_letter(self, letter: DeadLetter) -> None:
        self._record_error(letter.reason)
        try:
            await self._on_error(letter)
        except asyncio.CancelledError:
            raise
        except Exception:
            _log.exception("error sink failed for %s; letter: %r", self._source.id, letter)


def _reading_row(r: RawReading) -> dict[str, object]:
    return {
        "sensor_id": r.sensor_id,
        "asset_id": r.asset_id,
        "value": r.value,
        "timestamp": r.timestamp,
        "quality": r.quality,
        "raw": r.raw,
    }
