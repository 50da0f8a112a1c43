#!/usr/bin/env python3
"""Compare the schema.json of a provider plugin ha-swarm bridges itself with the Python SDK of the package it stands in for.

The docker and libvirt plugins ha-swarm builds (toolchain/docker-provider, toolchain/libvirt-provider) are not the
Pulumi packages' own: each is the Terraform provider bridged anew, and the Python SDK (pulumi_docker, pulumi_libvirt, installed from
PyPI) sends and reads property names that the package's own schema chose. This script checks that every property the SDK knows, for
the chosen resources and the provider's configuration, exists in the generated schema under the same name and with the same shape
(object, array, map or scalar kind), recursively into nested types. Properties only the schema has are fine (the SDK never sends them).

    .venv/bin/python toolchain/check_schema.py docker OUTDIR/schema.json [--resources Service,Network] [-v]
    .venv/bin/python toolchain/check_schema.py libvirt OUTDIR/schema.json [--resources Network,Pool,...] [-v]

PACKAGE names the Pulumi package (the tokens' first part); its SDK module is pulumi_PACKAGE unless --sdk says otherwise.
Exit status: 0 when nothing differs, 1 when something does (each difference on a line of its own), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import collections.abc as abc
import importlib
import json
import re
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROG = "check_schema"
# The resources compared by default, per package: those ha-swarm's program uses.
DEFAULT_RESOURCES: dict[str, tuple[str, ...]] = {
    "docker": ("Service", "Network"),
    "libvirt": ("Network", "Pool", "Volume", "CloudInitDisk", "Domain"),
}
SCALARS: dict[type, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}
PULUMI_NAME = "_pulumi_name"  # the attribute pulumi.getter sets on a property getter


@dataclass(frozen=True)
class Shape:
    """What a property holds: kind is object, array, map, a scalar kind (string, integer, number, boolean) or any."""

    kind: str
    elem: Shape | None = None  # the element of an array or map
    ref: Any = None  # object: the SDK's class, or the schema's type token

    def describe(self) -> str:
        if self.kind in ("array", "map") and self.elem is not None:
            return f"{self.kind} of {self.elem.describe()}"
        return self.kind


@dataclass
class Report:
    """The differences found, and what was compared."""

    problems: list[str] = field(default_factory=list)
    compared: list[str] = field(default_factory=list)
    seen: set[tuple[Any, str]] = field(default_factory=set)

    def add(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")


# -- the SDK side ---------------------------------------------------------------------------------------------------------------------


def _globals_for(cls: type) -> dict[str, Any]:
    names: dict[str, Any] = {}
    for base in reversed(cls.__mro__):
        module = sys.modules.get(base.__module__)
        if module is not None:
            names.update(vars(module))
    return names


def sdk_properties(cls: type) -> dict[str, Any]:
    """Pulumi name -> type hint of each property getter of an SDK class (resource, input type, output type)."""
    import pulumi

    globalns = _globals_for(cls)
    localns = {"Output": pulumi.Output, "T": type(None)}
    props: dict[str, Any] = {}
    for base in reversed(cls.__mro__):
        for value in vars(base).values():
            if not isinstance(value, property) or value.fget is None:
                continue
            name = getattr(value.fget, PULUMI_NAME, None)
            if name is None:
                continue
            hints = typing.get_type_hints(value.fget, globalns=globalns, localns=localns)
            props[name] = hints.get("return", Any)
    return props


def _is_sdk_object(tp: Any) -> bool:
    import pulumi

    return isinstance(tp, type) and (pulumi._types.is_input_type(tp) or pulumi._types.is_output_type(tp))


def sdk_shape(tp: Any) -> Shape | None:
    """The shape of an SDK type hint; None for what carries no shape of its own (None, Awaitable[T] in Input[T])."""
    import pulumi

    if tp is type(None):
        return None
    if tp is Any or isinstance(tp, typing.TypeVar):
        return Shape("any")
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union or origin is types.UnionType:
        shapes = [s for s in (sdk_shape(a) for a in args) if s is not None]
        # Input[T] is Union[T, Awaitable[T], Output[T]]; an input type is Union[XArgs, XArgsDict]: prefer what says the most.
        for s in shapes:
            if s.kind == "object" and s.ref is not None:
                return s
        return shapes[0] if shapes else None
    if origin in (abc.Awaitable, typing.Awaitable):
        return None
    if origin is pulumi.Output or tp is pulumi.Output:
        return sdk_shape(args[0]) if args else Shape("any")
    if origin in (list, abc.Sequence, typing.Sequence):
        return Shape("array", sdk_shape(args[0]) if args else Shape("any"))
    if origin in (dict, abc.Mapping, typing.Mapping):
        return Shape("map", sdk_shape(args[1]) if len(args) > 1 else Shape("any"))
    if _is_sdk_object(tp):
        return Shape("object", ref=tp)
    if typing.is_typeddict(tp):
        return Shape("object")
    if isinstance(tp, type) and tp in SCALARS:
        return Shape(SCALARS[tp])
    if isinstance(tp, type) and issubclass(tp, str):  # enums
        return Shape("string")
    return Shape("any")


# -- the schema side ------------------------------------------------------------------------------------------------------------------


def schema_shape(spec: dict[str, Any]) -> Shape:
    ref = spec.get("$ref")
    if ref is not None:
        if ref.startswith("#/types/"):
            return Shape("object", ref=ref[len("#/types/") :])
        return Shape("any")  # pulumi.json#/Any, Archive, Asset
    kind = spec.get("type")
    if kind == "array":
        return Shape("array", schema_shape(spec.get("items", {})))
    if kind == "object":
        return Shape("map", schema_shape(spec.get("additionalProperties", {})))
    if "oneOf" in spec or kind is None:
        return Shape("any")
    return Shape(kind)


# -- comparing ------------------------------------------------------------------------------------------------------------------------


def compare_shapes(where: str, sdk: Shape, schema: Shape, types_: dict[str, Any], report: Report) -> None:
    if sdk.kind == "any" or schema.kind == "any":
        return
    if sdk.kind != schema.kind:
        report.add(where, f"the SDK has {sdk.describe()}, the schema {schema.describe()}")
        return
    if sdk.kind in ("array", "map"):
        if sdk.elem is not None and schema.elem is not None:
            compare_shapes(where + "[]", sdk.elem, schema.elem, types_, report)
        return
    if sdk.kind == "object" and sdk.ref is not None:
        spec = types_.get(schema.ref)
        if spec is None:
            report.add(where, f"the schema's type {schema.ref} is missing")
            return
        compare_properties(where, sdk_properties(sdk.ref), spec.get("properties", {}), types_, report, key=(sdk.ref, schema.ref))


def compare_properties(where: str, sdk_props: dict[str, Any], schema_props: dict[str, Any], types_: dict[str, Any], report: Report, key: Any = None) -> None:
    if key is not None:
        if key in report.seen:
            return
        report.seen.add(key)
    for name, hint in sorted(sdk_props.items()):
        path = f"{where}.{name}"
        report.compared.append(path)
        spec = schema_props.get(name)
        if spec is None:
            close = [n for n in schema_props if n.lower().rstrip("s") == name.lower().rstrip("s")]
            hint_text = f" (the schema has {', '.join(close)})" if close else ""
            report.add(path, f"missing from the schema{hint_text}")
            continue
        shape = sdk_shape(hint)
        if shape is not None:
            compare_shapes(path, shape, schema_shape(spec), types_, report)


def lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def check_resource(sdk: Any, package: str, name: str, schema: dict[str, Any], report: Report) -> None:
    token = f"{package}:index/{lower_first(name)}:{name}"
    spec = schema.get("resources", {}).get(token)
    if spec is None:
        report.add(name, f"resource {token} missing from the schema")
        return
    types_ = schema.get("types", {})
    resource_cls = getattr(sdk, name)
    args_cls = getattr(sdk, f"{name}Args")
    module = importlib.import_module(resource_cls.__module__)
    state_cls = getattr(module, f"_{name}State", None)
    compare_properties(f"{name}(inputs)", sdk_properties(args_cls), spec.get("inputProperties", {}), types_, report)
    compare_properties(f"{name}(outputs)", sdk_properties(resource_cls), spec.get("properties", {}), types_, report)
    if state_cls is not None:
        compare_properties(f"{name}(state)", sdk_properties(state_cls), spec.get("stateInputs", {}).get("properties", {}), types_, report)


CONFIG_GET = re.compile(r"__config__\.get(?:_(bool|int|float|object|secret))?\('([A-Za-z0-9_]+)'\)")
CONFIG_KINDS = {"bool": {"boolean"}, "int": {"integer"}, "float": {"number"}, "object": {"object", "array", "map"}}


def check_provider(sdk: Any, schema: dict[str, Any], report: Report) -> None:
    types_ = schema.get("types", {})
    provider = schema.get("provider", {})
    compare_properties("Provider(inputs)", sdk_properties(sdk.ProviderArgs), provider.get("inputProperties", {}), types_, report)
    compare_properties("Provider(outputs)", sdk_properties(sdk.Provider), provider.get("properties", {}), types_, report)
    # PACKAGE.config: the stack configuration keys (docker:host, libvirt:uri, ...) the SDK reads.
    variables = schema.get("config", {}).get("variables", {})
    config_src = (Path(sdk.__file__ or ".").parent / "config" / "vars.py").read_text()  # importing it alone is circular
    for getter, name in CONFIG_GET.findall(config_src):
        where = f"config.{name}"
        report.compared.append(where)
        spec = variables.get(name)
        if spec is None:
            report.add(where, "missing from the schema's config variables")
            continue
        wanted = CONFIG_KINDS.get(getter)
        kind = schema_shape(spec).kind
        if wanted is not None and kind not in wanted and kind != "any":
            report.add(where, f"the SDK reads it with get_{getter}, the schema has {kind}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("package", help=f"the Pulumi package: {', '.join(DEFAULT_RESOURCES)} (or another, with --resources)")
    parser.add_argument("schema", type=Path, help="the schema.json written beside pulumi-resource-PACKAGE")
    defaults = "; ".join(f"{pkg} {','.join(names)}" for pkg, names in DEFAULT_RESOURCES.items())
    parser.add_argument("--resources", help=f"SDK resource classes to compare (default: {defaults})")
    parser.add_argument("--sdk", help="the Python SDK's module (default: pulumi_PACKAGE)")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every property compared")
    args = parser.parse_args(argv)
    package = args.package
    sdk_name = args.sdk or f"pulumi_{package}"
    if args.resources is not None:
        resources = [n for n in (n.strip() for n in args.resources.split(",")) if n]
    elif package in DEFAULT_RESOURCES:
        resources = list(DEFAULT_RESOURCES[package])
    else:
        print(f"{PROG}: no default resources for package {package}: name them with --resources", file=sys.stderr)
        return 2
    try:
        schema = json.loads(args.schema.read_text())
    except (OSError, ValueError) as err:
        print(f"{PROG}: cannot read {args.schema}: {err}", file=sys.stderr)
        return 2
    if schema.get("name") != package:
        print(f"{PROG}: {args.schema} is the schema of package {schema.get('name')!r}, not {package!r}", file=sys.stderr)
        return 2
    try:
        sdk = importlib.import_module(sdk_name)
    except ImportError as err:
        print(f"{PROG}: cannot import {sdk_name} (run with the project's virtualenv): {err}", file=sys.stderr)
        return 2

    report = Report()
    check_provider(sdk, schema, report)
    for name in resources:
        if not hasattr(sdk, name):
            print(f"{PROG}: {sdk_name} has no resource {name}", file=sys.stderr)
            return 2
        check_resource(sdk, package, name, schema, report)

    version = getattr(sdk, "__version__", None) or _sdk_version(sdk_name)
    if args.verbose:
        for path in report.compared:
            print(f"compared {path}")
    summary = f"{len(report.compared)} properties of {sdk_name} {version} compared with {args.schema} (schema version {schema.get('version', '?')})"
    if report.problems:
        for problem in report.problems:
            print(problem)
        print(f"{PROG}: {len(report.problems)} difference(s); {summary}", file=sys.stderr)
        return 1
    print(f"{PROG}: OK, {summary}")
    return 0


def _sdk_version(module: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(module.replace("_", "-"))
    except metadata.PackageNotFoundError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
