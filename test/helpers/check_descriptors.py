#!/usr/bin/python3
"""Validates FileDescriptorProtos as strictly as grpcurl does.

Reads JSON on stdin:
    {"files": ["<base64 FileDescriptorProto>", ...], "services": ["pkg.Service", ...]}

builds a fresh descriptor_pool.DescriptorPool from the files in dependency
order, then resolves every service, method, message and field type, and checks
that each listed service is present. Prints "OK ..." and exits 0, or prints
"ERROR: ..." and exits 1.

Run it with Debian's interpreter (/usr/bin/python3) and python3-protobuf: its
C++ descriptor builder rejects a file that uses a type from a file it does not
import ('"google.protobuf.Timestamp" is not defined') and a map entry not
named as protoc names it ('map_entry should not be set explicitly'), the same
mistakes grpcurl refuses.
"""

import base64
import json
import sys

try:
    from google.protobuf import descriptor_pb2, descriptor_pool
    from google.protobuf.internal import api_implementation
except ImportError as error:  # The caller must fail, not skip: say how to fix it.
    print(f"ERROR: cannot import google.protobuf ({error}); install it with: apt-get install -y python3-protobuf")
    sys.exit(2)


def fail(message):
    print(f"ERROR: {message}")
    sys.exit(1)


def dependency_order(files):
    """Files ordered so each comes after the files it lists as dependencies.

    A dependency that is named but not provided is an error here: the pool
    would fail on it anyway, with a less direct message.
    """
    ordered, state = [], {}

    def visit(name, chain):
        if state.get(name) == "done":
            return
        if state.get(name) == "active":
            fail("import cycle: " + " -> ".join(chain + [name]))
        if name not in files:
            fail(f'"{chain[-1]}" depends on "{name}", which the server did not provide')
        state[name] = "active"
        for dependency in files[name].dependency:
            visit(dependency, chain + [name])
        state[name] = "done"
        ordered.append(files[name])

    for name in files:
        visit(name, [])
    return ordered


def check_message(pool, message, counts):
    """Looks the message up by name and resolves every field's type through the pool."""
    if pool.FindMessageTypeByName(message.full_name) is not message:
        fail(f"{message.full_name} resolves to a different descriptor")
    counts["messages"] += 1
    for field in message.fields:
        counts["fields"] += 1
        if field.message_type is not None:
            pool.FindMessageTypeByName(field.message_type.full_name)
            if field.message_type.GetOptions().map_entry:
                counts["maps"] += 1
        if field.enum_type is not None:
            pool.FindEnumTypeByName(field.enum_type.full_name)
    for nested in message.nested_types:
        check_message(pool, nested, counts)


def main():
    request = json.load(sys.stdin)
    files = {}
    for encoded in request["files"]:
        proto = descriptor_pb2.FileDescriptorProto.FromString(base64.b64decode(encoded))
        if proto.name in files and files[proto.name] != proto:
            fail(f'two different files named "{proto.name}"')
        files[proto.name] = proto

    pool = descriptor_pool.DescriptorPool()
    for proto in dependency_order(files):
        try:
            # AddSerializedFile builds (and validates) the file immediately with the C++ implementation.
            pool.AddSerializedFile(proto.SerializeToString())
        except Exception as error:  # The pool raises TypeError today; report whatever it raises.
            fail(f"{proto.name}: {error}")

    counts = {"files": len(files), "services": 0, "methods": 0, "messages": 0, "fields": 0, "maps": 0}
    try:
        for name in files:
            file = pool.FindFileByName(name)
            for service in file.services_by_name.values():
                pool.FindServiceByName(service.full_name)
                counts["services"] += 1
                for method in service.methods:
                    counts["methods"] += 1
                    pool.FindMessageTypeByName(method.input_type.full_name)
                    pool.FindMessageTypeByName(method.output_type.full_name)
            for message in file.message_types_by_name.values():
                check_message(pool, message, counts)
            for enum in file.enum_types_by_name.values():
                pool.FindEnumTypeByName(enum.full_name)
        for service_name in request.get("services", []):
            pool.FindServiceByName(service_name)
    except KeyError as error:  # Find*ByName raises KeyError for a name it cannot resolve.
        fail(f"cannot resolve {error}")

    summary = ", ".join(f"{value} {key}" for key, value in counts.items())
    print(f"OK ({api_implementation.Type()} descriptor pool): {summary}")


if __name__ == "__main__":
    main()
