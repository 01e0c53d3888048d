"""The twinql error tree, shared by every package.

    TwinqlError                 code INTERNAL   (anything unexpected; masked by the API)
    ├── NotFound                code NOT_FOUND
    ├── ValidationError         code VALIDATION (bad input; carries an optional path)
    ├── Conflict                code CONFLICT   (a guard refused: children, history, duplicates)
    ├── Forbidden               code FORBIDDEN
    ├── Unauthenticated         code UNAUTHENTICATED
    ├── Unavailable             code UNAVAILABLE (a store, broker or device cannot be reached)
    └── RateLimited             code RATE_LIMITED (a token's rate is spent; retry after)

Adapters translate library errors at their edge (``raise Unavailable(...) from exc``);
only ``api/`` maps codes to GraphQL errors.
"""

from __future__ import annotations

__all__ = [
    "Conflict",
    "Forbidden",
    "NotFound",
    "RateLimited",
    "TwinqlError",
    "Unauthenticated",
    "Unavailable",
    "ValidationError",
]


class TwinqlError(Exception):
    """Root of every error twinql raises on purpose."""

    code = "INTERNAL"

    def __init__(self, message: str, *, details: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = dict(details or {})


class NotFound(TwinqlError):
    code = "NOT_FOUND"


class ValidationError(TwinqlError):
    code = "VALIDATION"

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        details: dict[str, object] | None = None,
    ) -> None:
        where = ""
        if path:
            where = f"{path}: "
        if line is not None:
            where = f"line {line}, {where}" if where else f"line {line}: "
        super().__init__(f"{where}{message}", details=details)
        self.path = path
        self.line = line
        if path:
            self.details.setdefault("path", path)
        if line is not None:
            self.details.setdefault("line", line)


class Conflict(TwinqlError):
    code = "CONFLICT"


class Forbidden(TwinqlError):
    code = "FORBIDDEN"


class Unauthenticated(TwinqlError):
    code = "UNAUTHENTICATED"


class Unavailable(TwinqlError):
    code = "UNAVAILABLE"


class RateLimited(TwinqlError):
    code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message, details={"retryAfter": round(retry_after, 3)})
        self.retry_after = retry_after
