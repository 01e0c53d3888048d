"""The compiled path of the RK4 engine, for single scenarios and small batches.

The vectorised engine spends one numpy call per model term per stage whatever the batch
size, so at batch size 1 the per-call overhead (about a microsecond each, dozens per
step) dominates and it loses to a plain Python loop. Here the model's scalar
``kernel`` (the same equations as ``rhs`` written over floats) and the RK4 step loop are
compiled with numba; inputs are still evaluated a chunk of steps at a time with numpy
and outputs computed with the model's vectorised ``observe`` over the recorded rows.

Same method, same stage times and input values as ``engine.rk4``: results agree with
the vectorised path to rounding (``tests/sim/test_sim_fastpath.py``). Compilation takes
a few seconds the first time a model is used in a process and is cached on disk by
numba (``cache=True``) for the next processes.

numba's on-disk cache never goes into the installed package (numba's default is the
``__pycache__`` beside the source, i.e. ``site-packages/sim/``, which outlives a
reinstall and shadows the package): every function compiled here goes through
``jit``, which points numba at ``use_cache_dir``'s directory, else ``NUMBA_CACHE_DIR``
when numba read one, else ``default_cache_dir()`` (``~/.cache/twinql/numba``). The
composition root calls ``use_cache_dir`` with its setting in every process that compiles
(the service and its job workers).
"""

from __future__ import annotations

import functools
import re
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from graph.errors import ValidationError
from sim.events import Progress
from sim.inputs import InputSchedule
from sim.model import Model

__all__ = [
    "cache_dir",
    "compile_seconds",
    "default_cache_dir",
    "jit",
    "kernel",
    "kernel_available",
    "model_constants",
    "rk4_kernel",
    "use_cache_dir",
    "warm_up",
]

_compile_s: dict[str, float] = {}
_cache_dir: list[Path] = []  # the directory use_cache_dir chose, if any
_on_cache_dir: list[Callable[[], None]] = []  # other modules' compiled-function caches


def default_cache_dir(xdg_cache_home: str | None = None, home: Path | None = None) -> Path:
    """Where numba's cache goes when nothing else is said: ``$XDG_CACHE_HOME/twinql/numba``
    (the caller passes the variable's value), else ``~/.cache/twinql/numba``."""
    base = Path(xdg_cache_home) if xdg_cache_home else (home or Path.home()) / ".cache"
    return base / "twinql" / "numba"


def use_cache_dir(path: Path | str) -> None:
    """Keep numba's compiled code under ``path`` (created when first written).

    Call it before anything is compiled; functions compiled earlier are compiled again
    (their cache moves with them)."""
    _cache_dir[:] = [Path(path)]
    _loop.cache_clear()
    _kernel.cache_clear()
    for clear in _on_cache_dir:
        clear()


def cache_dir() -> Path:
    """The directory numba's cache goes to in this process."""
    import numba

    if _cache_dir:
        return _cache_dir[0]
    config: Any = numba.config
    if config.CACHE_DIR:  # NUMBA_CACHE_DIR, read by numba itself
        return Path(config.CACHE_DIR)
    return default_cache_dir()


def jit(
    fn: Callable[..., Any],
    on_reset: Callable[[], None] | None = None,
    model: type[Model] | None = None,
    *,
    nogil: bool = False,
) -> Any:
    """``numba.njit(cache=True)(fn)`` with the cache in ``cache_dir()``, never in the
    package (``nogil``: the compiled function releases the GIL, so threads run it at
    once). ``on_reset`` (a ``functools.cache``'s ``cache_clear``) is called when
    ``use_cache_dir`` changes the directory.

    ``model``: ``fn`` is a loop that takes that model's kernel as an argument; it is
    compiled as its own copy, with its own cache index. numba keeps one index per
    function listing every signature compiled, and a signature names the kernel by its
    module: one shared index would make every process import every model ever compiled
    (a test's model included) before it could load any."""
    import numba

    config: Any = numba.config
    config.CACHE_DIR = str(cache_dir())
    if on_reset is not None and on_reset not in _on_cache_dir:
        _on_cache_dir.append(on_reset)
    if model is not None:
        tag = re.sub(r"\W", "_", f"{model.__module__}.{model.__qualname__}")
        copy = types.FunctionType(fn.__code__, fn.__globals__, f"{fn.__name__}__{tag}")
        copy.__qualname__ = f"{fn.__qualname__}__{tag}"
        copy.__module__ = fn.__module__
        fn = copy
    return numba.njit(cache=True, nogil=nogil)(fn)


def kernel_available(model: Model) -> bool:
    """Whether ``model`` has a scalar kernel and numba is importable."""
    if type(model).kernel is None:
        return False
    try:
        import numba  # noqa: F401
    except ImportError:  # numba is a declared dependency; stay usable without it
        return False
    return True


def compile_seconds() -> dict[str, float]:
    """Seconds spent compiling (or loading from numba's cache), per model, this process."""
    return dict(_compile_s)


def _advance(
    f: Any,
    x: np.ndarray,
    c: np.ndarray,
    u0: np.ndarray,
    uh: np.ndarray,
    u1: np.ndarray,
    t0: np.ndarray,
    h: np.ndarray,
    rec: np.ndarray,
    out: np.ndarray,
) -> None:  # pragma: no cover - runs compiled
    batch, n = x.shape
    wide_u = u0.shape[1] > 1
    wide_c = c.shape[0] > 1
    k1 = np.empty(n)
    k2 = np.empty(n)
    k3 = np.empty(n)
    k4 = np.empty(n)
    xt = np.empty(n)
    for b in range(batch):
        cb = c[b] if wide_c else c[0]
        ub = b if wide_u else 0
        xb = x[b]
        for j in range(h.shape[0]):
            hj = h[j]
            h2 = 0.5 * hj
            t = t0[j]
            f(t, xb, u0[j, ub], cb, k1)
            for i in range(n):
                xt[i] = xb[i] + h2 * k1[i]
            f(t + h2, xt, uh[j, ub], cb, k2)
            for i in range(n):
                xt[i] = xb[i] + h2 * k2[i]
            f(t + h2, xt, uh[j, ub], cb, k3)
            for i in range(n):
                xt[i] = xb[i] + hj * k3[i]
            f(t + hj, xt, u1[j, ub], cb, k4)
            w = hj / 6.0
            for i in range(n):
                xb[i] = xb[i] + w * (k1[i] + 2.0 * (k2[i] + k3[i]) + k4[i])
            r = rec[j]
            if r >= 0:
                for i in range(n):
                    out[r, b, i] = xb[i]


@functools.cache
def _loop(cls: type[Model]) -> Callable[..., None]:
    return jit(_advance, model=cls)


@functools.cache
def _kernel(cls: type[Model]) -> Any:
    return jit(cls.kernel)  # type: ignore[arg-type]


def kernel(model: Model) -> Any:
    """The model's scalar kernel, compiled (cached per model class)."""
    return _kernel(type(model))  # type: ignore[arg-type]  # a class is Hashable: python/mypy#11470


def warm_up(model: Model) -> float:
    """Compile (or load) the model's kernel and the loop now; returns the seconds spent."""
    t0 = time.perf_counter()
    x = model.state_vector()[None].copy()
    p = model.param_vector()[None]
    c = model_constants(model, p)
    u = model.input_vector()[None, None].copy()
    one = np.ones(1)
    out = np.empty((1, 1, x.shape[1]))
    loop = _loop(type(model))  # type: ignore[arg-type]  # a class is Hashable: python/mypy#11470
    loop(kernel(model), x, c, u, u, u, one * 0.0, one, np.zeros(1, np.int64), out)
    spent = time.perf_counter() - t0
    _compile_s.setdefault(model.name, spent)
    return spent


def model_constants(model: Model, p: np.ndarray) -> np.ndarray:
    """``prepare(p)`` flattened to ``(rows of p, n_constants)`` floats."""
    cols = [np.broadcast_to(np.asarray(a, float), (p.shape[0],)) for a in model.prepare(p)]
    return np.ascontiguousarray(np.stack(cols, axis=1))


def rk4_kernel(
    model: Model,
    x: np.ndarray,
    p: np.ndarray,
    schedule: InputSchedule,
    *,
    n_steps: int,
    dt: float,
    horizon_s: float,
    record_every: int,
    times: np.ndarray,
    xs: np.ndarray,
    ys: np.ndarray,
    chunk: int,
    progress: Progress | None,
) -> None:
    """Fill ``xs``/``ys`` (rows after the first) as ``engine.rk4`` would, compiled."""
    if model.name not in _compile_s:
        warm_up(model)
    f = kernel(model)
    loop = _loop(type(model))  # type: ignore[arg-type]  # a class is Hashable: python/mypy#11470
    c = model_constants(model, p)
    x = np.array(x, dtype=float, order="C")
    batch = x.shape[0]
    n_rec = len(times)
    prep_rows = model.prepare(p)
    step = 0
    while step < n_steps:
        k = min(chunk, n_steps - step)
        t_start = np.arange(step, step + k) * dt
        t_end = np.minimum(np.arange(step + 1, step + k + 1) * dt, horizon_s)
        mid = schedule.at(np.concatenate([t_start, (t_start + t_end) / 2]))
        u0 = np.ascontiguousarray(mid[:k])
        uh = np.ascontiguousarray(mid[k:])
        u1 = np.ascontiguousarray(schedule.at(t_end, True))
        ends = np.arange(step + 1, step + k + 1)
        rec = np.where(ends % record_every == 0, ends // record_every, -1)
        if ends[-1] == n_steps:
            rec[-1] = n_rec - 1
        loop(f, x, c, u0, uh, u1, t_start, t_end - t_start, rec, xs)
        got = np.flatnonzero(rec >= 0)
        if got.size:
            rows = rec[got]
            block = xs[rows]
            bad = ~np.isfinite(block).all(axis=(1, 2))
            if bad.any():
                when = float(times[rows[np.argmax(bad)]])
                raise ValidationError(
                    f"integration of {model.name!r} diverged by t={when:g} s: "
                    f"the step {dt} s is too large for these parameters",
                    details={"time_s": when},
                )
            u_rec = np.broadcast_to(u1[got], (got.size, batch, u1.shape[2]))
            prep = prep_rows if p.shape[0] == 1 else model.prepare(np.tile(p, (got.size, 1)))
            flat = model.observe(
                np.repeat(times[rows], batch),  # type: ignore[arg-type]
                block.reshape(-1, block.shape[2]),
                u_rec.reshape(got.size * batch, u_rec.shape[2]),
                prep,
            )
            ys[rows] = flat.reshape(got.size, batch, -1)
        step += k
        if progress is not None:
            progress(step / n_steps)
