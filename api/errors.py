"""The one place where twinql errors become GraphQL errors.

A ``TwinqlError`` with a client-facing code keeps its message and gains
``extensions.code`` (plus its details); GraphQL's own validation errors get
``VALIDATION`` (variable values that do not coerce included), as does an operation
its transport does not carry (a query over the legacy ``graphql-ws`` protocol:
``api.live.transport``); anything else is unexpected, a plain ``TwinqlError`` (code ``INTERNAL``,
e.g. a statement the graph server refused) included: it is logged in full with its
traceback, under a short reference, and the client gets ``INTERNAL``, a masked message
and that reference (``extensions.ref``) to quote.
"""

from __future__ import annotations

import logging
import secrets

from graphql.error import GraphQLError
from strawberry.extensions import MaskErrors
from strawberry.schema.exceptions import InvalidOperationTypeError

from api.live.transport import operation_refusal
from graph.errors import TwinqlError

__all__ = ["CodedErrors", "code_of"]

log = logging.getLogger("twinql.api")


def code_of(error: GraphQLError) -> str:
    orig = error.original_error
    if isinstance(orig, TwinqlError):
        return orig.code
    if orig is None or isinstance(orig, InvalidOperationTypeError):
        return "VALIDATION"
    if isinstance(orig, GraphQLError) and not error.path:
        # variable values that do not coerce (graphql-core 3.3 keeps its own error, or
        # the scalar's, as the original): the request's fault, raised before execution
        return "VALIDATION"
    return "INTERNAL"


class CodedErrors(MaskErrors):
    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda _: True, error_message="Unexpected error.")

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        orig = error.original_error
        code = code_of(error)
        extensions = dict(error.extensions or {})
        message = error.message
        if code == "INTERNAL":
            ref = secrets.token_hex(4)
            log.error(
                "unexpected error [ref %s] in %s: %s", ref, error.path, error.message, exc_info=orig
            )
            message = self.error_message
            extensions = {"ref": ref}
        elif isinstance(orig, InvalidOperationTypeError):  # a query over legacy graphql-ws
            message = operation_refusal(orig, over_http=False)
        elif isinstance(orig, TwinqlError):
            extensions.update({k: v for k, v in orig.details.items() if _scalarish(v)})
        extensions["code"] = code
        return GraphQLError(
            message=message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,
            extensions=extensions,
        )


def _scalarish(v: object) -> bool:
    return isinstance(v, str | int | float | bool | list | dict) or v is None
