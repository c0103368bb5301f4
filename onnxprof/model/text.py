"""Every name in a parsed model as text.

ONNX's string fields (node, tensor, domain and dim_param names) are proto2 ``string``: protobuf does not
validate them and hands back ``bytes`` for one that is not UTF-8. Everything after loading (the checker,
shape inference, the report, JSON, ONNX Runtime's messages) expects ``str``, so such a name is decoded
here, once, with replacement characters, and the report warns that it was.
"""

from __future__ import annotations

from functools import lru_cache

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message

_STRING, _MESSAGE = FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_MESSAGE


def decode_names(message: Message) -> int:
    """Decode, in place, every non-UTF-8 string in ``message`` and the messages it holds; return how
    many were replaced. Byte fields (tensor payloads, string tensors) are left as they are."""
    repaired = 0
    pending = [message]
    while pending:      # a loop, not recursion: subgraphs may nest deeper than Python's stack
        current = pending.pop()
        strings, messages = _fields(current.DESCRIPTOR)
        for name, repeated in strings:
            value = getattr(current, name)
            if repeated:
                for index, item in enumerate(value):
                    if type(item) is bytes:
                        value[index] = item.decode("utf-8", errors="replace")
                        repaired += 1
            elif type(value) is bytes:
                setattr(current, name, value.decode("utf-8", errors="replace"))
                repaired += 1
        for name, repeated in messages:
            if repeated:
                pending.extend(getattr(current, name))
            elif current.HasField(name):
                pending.append(getattr(current, name))
    return repaired


@lru_cache(maxsize=None)
def _fields(descriptor: Descriptor) -> tuple[tuple[tuple[str, bool], ...], tuple[tuple[str, bool], ...]]:
    """(string fields, message fields) of a message type, each as (name, repeated)."""
    strings, messages = [], []
    for field in descriptor.fields:
        repeated = field.is_repeated
        if field.type == _STRING:
            strings.append((field.name, repeated))
        elif field.type == _MESSAGE and not field.message_type.GetOptions().map_entry:
            messages.append((field.name, repeated))
    return tuple(strings), tuple(messages)


def has_invalid_utf8(serialized: bytes) -> bool:
    """Whether a serialized ModelProto holds a string that is not UTF-8.

    Parsing the bytes again with a copy of onnx.proto whose strings protobuf must verify is a C-speed
    check (milliseconds for 40k nodes); :func:`decode_names` walks in Python and runs only when it fails.
    """
    strict = _verifying_model_class()
    if strict is None:
        return True          # a protobuf without editions: let the walk look
    try:
        strict().ParseFromString(serialized)
    except DecodeError:
        return True
    return False


_CHECK_PACKAGE = "onnxprof_utf8_check"


@lru_cache(maxsize=1)
def _verifying_model_class():
    """ModelProto from a copy of onnx.proto, as edition 2023 with UTF-8 verification on every string."""
    from onnx import ModelProto

    proto = descriptor_pb2.FileDescriptorProto()
    ModelProto.DESCRIPTOR.file.CopyToProto(proto)
    old_prefix = f".{proto.package}."
    proto.name, proto.package = f"{_CHECK_PACKAGE}.proto", _CHECK_PACKAGE
    proto.syntax, proto.edition = "editions", descriptor_pb2.EDITION_2023
    features = proto.options.features
    features.utf8_validation = descriptor_pb2.FeatureSet.VERIFY
    features.field_presence = descriptor_pb2.FeatureSet.EXPLICIT          # proto2's meaning of the rest
    features.enum_type = descriptor_pb2.FeatureSet.CLOSED
    features.repeated_field_encoding = descriptor_pb2.FeatureSet.EXPANDED
    pending = list(proto.message_type)
    while pending:
        message = pending.pop()
        pending.extend(message.nested_type)
        for field in message.field:
            if field.type_name.startswith(old_prefix):
                field.type_name = f".{_CHECK_PACKAGE}.{field.type_name[len(old_prefix):]}"
            if field.label == descriptor_pb2.FieldDescriptorProto.LABEL_REQUIRED:
                field.label = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
                field.options.features.field_presence = descriptor_pb2.FeatureSet.LEGACY_REQUIRED
    try:
        pool = descriptor_pool.DescriptorPool()
        pool.Add(proto)
        return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_CHECK_PACKAGE}.ModelProto"))
    except (TypeError, ValueError, KeyError):   # protobuf older than editions (< 5.27)
        return None
