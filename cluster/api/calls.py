"""The Exchange stream's messages (api.proto: Calls, Replies), framed from serialized parts.

A Calls (Replies) message holding one call (reply) is written here around the request's
(response's) own serialized bytes, so it is never copied into a Call or Reply first; and since
protobuf reads concatenated messages as one with their repeated fields joined, a batch is its
one-call frames joined. Both sides of the stream build their messages this way.
"""

from __future__ import annotations

from raykube.v1 import api_pb2

# The oneof arms, named as the unary methods in snake_case, and their field numbers.
CALL_ARMS = {f.name: f.number for f in api_pb2.Call.DESCRIPTOR.oneofs_by_name["request"].fields}
REPLY_ARMS = {f.name: f.number for f in api_pb2.Reply.DESCRIPTOR.oneofs_by_name["response"].fields}
ERROR_ARM = "error"

_ID_TAG = bytes([1 << 3 | 0])  # field 1, varint: Call.id, Reply.id
_ITEM_TAG = bytes([1 << 3 | 2])  # field 1, length-delimited: Calls.calls, Replies.replies


def method_of(arm: str) -> str:
    """The unary method an arm stands for: "update_status" -> "UpdateStatus"."""
    return "".join(part.capitalize() for part in arm.split("_"))


ARM_OF_METHOD = {method_of(arm): arm for arm in CALL_ARMS}  # "UpdateStatus" -> "update_status"


def call_frame(call_id: int, arm: str, request: bytes) -> bytes:
    """A serialized Calls message with one call: `request` (serialized) in arm `arm`."""
    return _frame(call_id, CALL_ARMS[arm], request)


def reply_frame(call_id: int, arm: str, response: bytes) -> bytes:
    """A serialized Replies message with one reply: `response` (serialized) in arm `arm`."""
    return _frame(call_id, REPLY_ARMS[arm], response)


def _frame(call_id: int, field: int, payload: bytes) -> bytes:
    item = b"".join((_ID_TAG, _varint(call_id), _varint(field << 3 | 2), _varint(len(payload)), payload))
    return b"".join((_ITEM_TAG, _varint(len(item)), item))


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)
