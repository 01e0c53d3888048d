"""The model interface: named states, inputs, parameters and outputs over numpy arrays.

Array layout, everywhere in ``sim``:

- ``x``: ``(batch, n_states)``, one row per scenario;
- ``u``: ``(batch, n_inputs)`` or ``(1, n_inputs)`` (shared by every scenario);
- ``p``: ``(batch, n_params)`` or ``(1, n_params)``.

A model implements two hot-path methods over *prepared* parameters:
``rhs(t, x, u, prep)`` (the derivatives) and ``observe(t, x, u, prep)`` (the outputs),
where ``prep = model.prepare(p)`` is computed once per run (column slices, derived
constants), so the integrator's inner loop does no per-step parameter bookkeeping.
``derivatives(t, x, u, p)`` and ``compute_outputs(t, x, u, p)`` are the convenient
un-prepared forms.

Models hold no mutable state: one instance serves every run and every thread, and
pickles by reference to its class.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from graph.errors import ValidationError

__all__ = ["InputSpec", "Model", "OutputSpec", "ParamSpec", "StateSpec"]


def _check_spec(name: str, unit: str, description: str) -> None:
    if not name.isidentifier():
        raise ValidationError(f"spec name must be an identifier, got {name!r}")
    if not description.strip():
        raise ValidationError(f"spec {name!r} needs a description")


@dataclass(frozen=True, slots=True)
class StateSpec:
    """A state variable: ``default`` is the initial value when nothing else is known."""

    name: str
    unit: str
    description: str
    default: float = 0.0

    def __post_init__(self) -> None:
        _check_spec(self.name, self.unit, self.description)


@dataclass(frozen=True, slots=True)
class InputSpec:
    """An exogenous input (setpoint, boundary condition, disturbance)."""

    name: str
    unit: str
    description: str
    default: float = 0.0

    def __post_init__(self) -> None:
        _check_spec(self.name, self.unit, self.description)


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """A parameter with its physical meaning and the closed interval it may take."""

    name: str
    unit: str
    description: str
    default: float
    bounds: tuple[float, float]

    def __post_init__(self) -> None:
        _check_spec(self.name, self.unit, self.description)
        lo, hi = self.bounds
        if not lo <= self.default <= hi:
            raise ValidationError(f"parameter {self.name!r}: default outside {self.bounds}")


@dataclass(frozen=True, slots=True)
class OutputSpec:
    """A computed output, usually what a sensor on the asset measures."""

    name: str
    unit: str
    description: str

    def __post_init__(self) -> None:
        _check_spec(self.name, self.unit, self.description)


class Model:
    """Base class of every simulation model (subclasses set the class attributes)."""

    name: str = ""
    description: str = ""
    states: tuple[StateSpec, ...] = ()
    inputs: tuple[InputSpec, ...] = ()
    parameters: tuple[ParamSpec, ...] = ()
    outputs: tuple[OutputSpec, ...] = ()

    kernel: Callable[..., None] | None = None
    """Optional scalar form of ``rhs`` for the compiled fast path (``sim.fastpath``):
    ``kernel(t, x, u, c, dx)`` over one scenario's 1-D arrays, ``c`` the ``prepare``
    tuple flattened to floats, writing the derivatives into ``dx``. It must compute the
    same as ``rhs`` and stay within what numba compiles (floats, ``abs``/``min``/``max``,
    ``math``)."""

    # -- hot path, implemented by subclasses -------------------------------------------
    def prepare(self, p: np.ndarray) -> Any:
        """Precompute what ``rhs``/``observe`` need from ``p`` (default: ``p`` itself)."""
        return p

    def rhs(self, t: float, x: np.ndarray, u: np.ndarray, prep: Any) -> np.ndarray:
        raise NotImplementedError

    def observe(self, t: float, x: np.ndarray, u: np.ndarray, prep: Any) -> np.ndarray:
        raise NotImplementedError

    # -- convenient forms ----------------------------------------------------------------
    def derivatives(self, t: float, x: np.ndarray, u: np.ndarray, p: np.ndarray) -> np.ndarray:
        """``dx/dt`` as ``(batch, n_states)``."""
        return self.rhs(t, x, u, self.prepare(p))

    def compute_outputs(self, t: float, x: np.ndarray, u: np.ndarray, p: np.ndarray) -> np.ndarray:
        """Outputs as ``(batch, n_outputs)``."""
        return self.observe(t, x, u, self.prepare(p))

    # -- names and vectors ---------------------------------------------------------------
    @cached_property
    def state_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.states)

    @cached_property
    def input_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.inputs)

    @cached_property
    def param_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.parameters)

    @cached_property
    def output_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.outputs)

    def units(self) -> dict[str, str]:
        """Unit of every state, input, parameter and output, by name."""
        specs: tuple[StateSpec | InputSpec | ParamSpec | OutputSpec, ...]
        specs = (*self.states, *self.inputs, *self.parameters, *self.outputs)
        return {s.name: s.unit for s in specs}

    def state_vector(self, values: Mapping[str, float] | None = None) -> np.ndarray:
        """Defaults overridden by ``values``: ``(n_states,)``."""
        return _vector(self.name, "state", self.states, values)

    def input_vector(self, values: Mapping[str, float] | None = None) -> np.ndarray:
        return _vector(self.name, "input", self.inputs, values)

    def param_vector(self, values: Mapping[str, float] | None = None) -> np.ndarray:
        """Defaults overridden by ``values``, each checked against its bounds."""
        vec = _vector(self.name, "parameter", self.parameters, values)
        for spec, v in zip(self.parameters, vec, strict=True):
            lo, hi = spec.bounds
            if not lo <= v <= hi:
                raise ValidationError(
                    f"parameter {spec.name!r} of model {self.name!r} must lie in "
                    f"[{lo}, {hi}] {spec.unit}, got {v}",
                    path=f"parameters.{spec.name}",
                )
        return vec

    def index_of(self, kind: str, name: str) -> int:
        """Column of ``name`` among the model's ``kind`` ("state", "input", ...)."""
        names = {
            "state": self.state_names,
            "input": self.input_names,
            "parameter": self.param_names,
            "output": self.output_names,
        }[kind]
        try:
            return names.index(name)
        except ValueError:
            raise ValidationError(
                f"model {self.name!r} has no {kind} {name!r}; known: {', '.join(names)}",
                path=f"{kind}s.{name}",
            ) from None

    def describe(self) -> dict[str, Any]:
        """Plain-data description (for the API and docs)."""

        def rows(specs: tuple[Any, ...]) -> list[dict[str, Any]]:
            out = []
            for s in specs:
                row = {f: getattr(s, f) for f in s.__slots__}
                if "bounds" in row:
                    row["bounds"] = list(row["bounds"])
                out.append(row)
            return out

        return {
            "name": self.name,
            "description": self.description,
            "states": rows(self.states),
            "inputs": rows(self.inputs),
            "parameters": rows(self.parameters),
            "outputs": rows(self.outputs),
        }

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), ())

    def __repr__(self) -> str:
        return f"<Model {self.name}>"


def _vector(
    model: str, kind: str, specs: tuple[Any, ...], values: Mapping[str, float] | None
) -> np.ndarray:
    vec = np.array([s.default for s in specs], dtype=float)
    if not values:
        return vec
    index = {s.name: i for i, s in enumerate(specs)}
    for key, value in values.items():
        if key not in index:
            raise ValidationError(
                f"model {model!r} has no {kind} {key!r}; known: {', '.join(index)}",
                path=f"{kind}s.{key}",
            )
        if isinstance(value, bool) or not isinstance(value, int | float | np.floating):
            raise ValidationError(
                f"{kind} {key!r} must be a number, got {value!r}", path=f"{kind}s.{key}"
            )
        if not math.isfinite(float(value)):
            raise ValidationError(f"{kind} {key!r} must be finite", path=f"{kind}s.{key}")
        vec[index[key]] = float(value)
    return vec
