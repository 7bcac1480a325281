"""API errors: one hierarchy, mapped to gRPC and HTTP status codes in one place.

    ApiError                      (base; carries a Kubernetes-shaped Status)
    ├── BadRequest        400     INVALID_ARGUMENT   malformed request (e.g. a selector that does not parse)
    ├── Invalid           422     INVALID_ARGUMENT   an object failed validation; `causes` name each field
    ├── Unauthorized      401     UNAUTHENTICATED    no or unknown credentials
    ├── Forbidden         403     PERMISSION_DENIED  authenticated, but not allowed
    ├── NotFound          404     NOT_FOUND
    ├── MethodNotAllowed  405     UNIMPLEMENTED      a verb the resource does not serve (REST)
    ├── AlreadyExists     409     ALREADY_EXISTS     create of an existing name
    ├── Conflict          409     ABORTED            stale resourceVersion / failed precondition
    ├── Gone              410     OUT_OF_RANGE       watch from a compacted resourceVersion ("Expired")
    ├── RequestEntityTooLarge 413 RESOURCE_EXHAUSTED a request body (or manifest) past the limit
    ├── TooManyRequests   429     RESOURCE_EXHAUSTED too many requests in flight
    ├── InternalError     500     INTERNAL
    ├── Unavailable       503     UNAVAILABLE        a dependency (store, kubelet) cannot be reached
    └── Timeout           504     DEADLINE_EXCEEDED

Servers raise these; `abort()` turns one into a gRPC status with the Status message in trailing
metadata (`STATUS_METADATA_KEY`), and clients turn any RpcError back into the same class with
`from_rpc_error()`, so "which field, what was wrong" survives the wire.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, NoReturn

import grpc

from raykube.v1 import meta_pb2

STATUS_METADATA_KEY = "raykube-status-bin"


@dataclass(frozen=True)
class FieldError:
    """One invalid field, as Kubernetes reports it (field path, what is wrong, machine-readable reason)."""

    field: str
    message: str
    reason: str = "FieldValueInvalid"

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


def required(field: str) -> FieldError:
    return FieldError(field, "Required value", "FieldValueRequired")


def invalid(field: str, value: object, detail: str) -> FieldError:
    return FieldError(field, f"Invalid value: {json.dumps(value)}: {detail}", "FieldValueInvalid")


def not_supported(field: str, value: object, supported: Sequence[str]) -> FieldError:
    options = ", ".join(f'"{s}"' for s in supported)
    return FieldError(
        field,
        f"Unsupported value: {json.dumps(value)}: supported values: {options}",
        "FieldValueNotSupported",
    )


def duplicate(field: str, value: object) -> FieldError:
    return FieldError(field, f"Duplicate value: {json.dumps(value)}", "FieldValueDuplicate")


def forbidden(field: str, detail: str) -> FieldError:
    return FieldError(field, f"Forbidden: {detail}", "FieldValueForbidden")


class ApiError(Exception):
    """An error a client should see, with a Kubernetes reason and HTTP/gRPC codes."""

    grpc_code: ClassVar[grpc.StatusCode] = grpc.StatusCode.UNKNOWN
    http_code: ClassVar[int] = 500
    reason: ClassVar[str] = "Unknown"

    def __init__(self, message: str, *, causes: Sequence[FieldError] = (), kind: str = "", name: str = ""):
        super().__init__(message)
        self.message = message
        self.causes = tuple(causes)
        self.kind = kind
        self.name = name

    def to_status(self) -> meta_pb2.Status:
        return meta_pb2.Status(
            api_version="v1",
            kind="Status",
            status="Failure",
            message=self.message,
            reason=self.reason,
            code=self.http_code,
            details=meta_pb2.StatusDetails(
                name=self.name,
                kind=self.kind,
                causes=[
                    meta_pb2.StatusCause(reason=c.reason, message=c.message, field=c.field)
                    for c in self.causes
                ],
            ),
        )

    @staticmethod
    def from_status(status: meta_pb2.Status, grpc_code: grpc.StatusCode | None = None) -> ApiError:
        cls = _BY_REASON.get(status.reason) or _BY_GRPC_CODE.get(
            grpc_code or grpc.StatusCode.UNKNOWN, ApiError
        )
        causes = [FieldError(c.field, c.message, c.reason) for c in status.details.causes]
        return cls(status.message, causes=causes, kind=status.details.kind, name=status.details.name)


class BadRequest(ApiError):
    grpc_code, http_code, reason = grpc.StatusCode.INVALID_ARGUMENT, 400, "BadRequest"


class Invalid(ApiError):
    grpc_code, http_code, reason = grpc.StatusCode.INVALID_ARGUMENT, 422, "Invalid"

    @classmethod
    def for_object(cls, kind: str, name: str, causes: Sequence[FieldError]) -> Invalid:
        listed = ", ".join(str(c) for c in causes)
        what = f'{kind} "{name}"' if name else kind
        return cls(
            f"{what} is invalid: [{listed}]" if len(causes) > 1 else f"{what} is invalid: {listed}",
            causes=causes,
            kind=kind,
            name=name,
        )


class Unauthorized(ApiError):
    grpc_code, http_code, reason = grpc.StatusCode.UNAUTHENTICATED, 401, "Unauthorized"


class Forbidden(ApiError):
    grpc_code, http_code, reason = grpc.StatusCode.PERMISSION_DENIED, 403, "Forbidden"


class NotFound(ApiError):
    grpc_code, http_code, reason = grpc.StatusCode.NOT_FOUND, 404, "NotFound"


class MethodNotAllowed(ApiError):
    grpc_code, http_code, reason = grpc.StatusCode.UNIMPLEMENTED, 405, "MethodNotAllowed"


class AlreadyExists(ApiError):
    grpc_code, http_code, reason = grpc.StatusCode.ALREADY_EXISTS, 409, "AlreadyExists"


class Conflict(ApiError):
    grpc_code, http_code, reason = grpc.StatusCode.ABORTED, 409, "Conflict"


class Gone(ApiError):
    grpc_code, http_code, reason = grpc.StatusCode.OUT_OF_RANGE, 410, "Expired"


class RequestEntityTooLarge(ApiError):
    grpc_code, http_code, reason = grpc.StatusCode.RESOURCE_EXHAUSTED, 413, "RequestEntityTooLarge"


class TooManyRequests(ApiError):
    grpc_code, http_code, reason = grpc.StatusCode.RESOURCE_EXHAUSTED, 429, "TooManyRequests"


class InternalError(ApiError):
    grpc_code, http_code, reason = grpc.StatusCode.INTERNAL, 500, "InternalError"


class Unavailable(ApiError):
    grpc_code, http_code, reason = grpc.StatusCode.UNAVAILABLE, 503, "ServiceUnavailable"


class Timeout(ApiError):
    grpc_code, http_code, reason = grpc.StatusCode.DEADLINE_EXCEEDED, 504, "Timeout"


_CLASSES: tuple[type[ApiError], ...] = (
    BadRequest,
    Invalid,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    AlreadyExists,
    Conflict,
    Gone,
    RequestEntityTooLarge,
    TooManyRequests,
    InternalError,
    Unavailable,
    Timeout,
)
_BY_REASON = {c.reason: c for c in _CLASSES}
# Where two classes share a gRPC code, the more general one answers for a bare status code.
_BY_GRPC_CODE = {c.grpc_code: c for c in reversed(_CLASSES)}


async def abort(context: grpc.aio.ServicerContext, error: ApiError) -> NoReturn:
    """End an RPC with `error`: its gRPC code, its message, and its Status in trailing metadata."""
    context.set_trailing_metadata(((STATUS_METADATA_KEY, error.to_status().SerializeToString()),))
    await context.abort(error.grpc_code, error.message)
    raise AssertionError("unreachable: context.abort raises")  # pragma: no cover


def from_rpc_error(err: grpc.RpcError) -> ApiError:
    """The ApiError a server sent, or the closest one for a transport-level failure."""
    if not isinstance(err, grpc.Call | grpc.aio.AioRpcError):
        return Unavailable(str(err))
    code, details = err.code(), err.details() or ""
    for key, value in err.trailing_metadata() or ():
        if key == STATUS_METADATA_KEY and isinstance(value, bytes):
            status = meta_pb2.Status()
            status.ParseFromString(value)
            return ApiError.from_status(status, code)
    return _BY_GRPC_CODE.get(code, ApiError)(details)
