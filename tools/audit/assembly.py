"""Reads a synthesised cloud assembly (cdk.out): its stacks, templates, and helpers for CloudFormation intrinsics."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class StackTemplate:
    """One stack of the assembly: CDK artifact id (e.g. ``Storage``), deployed stack name and template."""

    artifact_id: str
    stack_name: str
    template_file: Path
    template: dict[str, Any]
    # logical id -> construct path, from the assembly's stack metadata (works without pathMetadata too)
    construct_paths: dict[str, str] = field(default_factory=dict)

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template.get("Resources", {}) or {}

    def path_of(self, logical_id: str) -> str:
        """The construct path (``aws:cdk:path`` metadata, kept by ``pathMetadata: true``), else the logical id."""
        resource = self.resources.get(logical_id, {})
        return (
            (resource.get("Metadata") or {}).get("aws:cdk:path")
            or self.construct_paths.get(logical_id)
            or f"{self.artifact_id}/{logical_id}"
        )

    def of_type(self, *types: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for logical_id, resource in self.resources.items():
            if resource.get("Type") in types:
                yield logical_id, resource

    def resource_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for resource in self.resources.values():
            counts[resource.get("Type", "?")] = counts.get(resource.get("Type", "?"), 0) + 1
        return dict(sorted(counts.items()))


@dataclass
class CloudAssembly:
    directory: Path
    stacks: list[StackTemplate] = field(default_factory=list)

    def stack(self, artifact_id: str) -> StackTemplate:
        return next(stack for stack in self.stacks if stack.artifact_id == artifact_id)

    def exports(self) -> dict[str, tuple[StackTemplate, Any]]:
        """Export name -> (exporting stack, exported value), for resolving ``Fn::ImportValue`` across stacks."""
        found: dict[str, tuple[StackTemplate, Any]] = {}
        for stack in self.stacks:
            for output in (stack.template.get("Outputs") or {}).values():
                name = (output.get("Export") or {}).get("Name")
                if isinstance(name, str):
                    found[name] = (stack, output.get("Value"))
        return found

    def handoffs(self) -> dict[tuple[str, str], tuple[StackTemplate, Any]]:
        """(reading stack id, template parameter) -> (writing stack, value), for each parameter of type
        ``AWS::SSM::Parameter::Value<String>`` whose default names an ``AWS::SSM::Parameter`` another template
        writes (stacks/handoff.py): the value CloudFormation resolves it to at deployment."""
        written = {
            properties.get("Name"): (stack, properties.get("Value"))
            for stack in self.stacks
            for _, resource in stack.of_type("AWS::SSM::Parameter")
            for properties in [resource.get("Properties") or {}]
        }
        return {
            (stack.artifact_id, name): written[parameter.get("Default")]
            for stack in self.stacks
            for name, parameter in (stack.template.get("Parameters") or {}).items()
            if parameter.get("Type") == "AWS::SSM::Parameter::Value<String>" and parameter.get("Default") in written
        }


class AssemblyError(RuntimeError):
    """cdk.out is missing or is not a cloud assembly."""


def load_assembly(directory: Path) -> CloudAssembly:
    """Every CloudFormation stack listed in ``manifest.json`` (nested assemblies such as stages included)."""
    directory = Path(directory)
    manifest_file = directory / "manifest.json"
    if not manifest_file.is_file():
        raise AssemblyError(f"{manifest_file} not found: run `make synth` first")
    assembly = CloudAssembly(directory)
    _collect(directory, json.loads(manifest_file.read_text()), assembly)
    listed = {stack.template_file.resolve() for stack in assembly.stacks}
    # A template on disk that the manifest does not list would escape the audit: include it, by file name.
    for path in sorted(directory.glob("*.template.json")):
        if path.resolve() not in listed:
            name = path.name.removesuffix(".template.json")
            assembly.stacks.append(StackTemplate(name, name, path, json.loads(path.read_text())))
    return assembly


def _collect(directory: Path, manifest: dict[str, Any], assembly: CloudAssembly) -> None:
    for artifact_id, artifact in (manifest.get("artifacts") or {}).items():
        properties = artifact.get("properties") or {}
        if artifact.get("type") == "aws:cloudformation:stack":
            path = directory / properties["templateFile"]
            assembly.stacks.append(
                StackTemplate(
                    artifact_id=artifact.get("displayName") or artifact_id,
                    stack_name=properties.get("stackName") or artifact_id,
                    template_file=path,
                    template=json.loads(path.read_text()),
                    construct_paths=_logical_id_paths(directory, artifact),
                )
            )
        elif artifact.get("type") == "cdk:cloud-assembly":
            nested = directory / properties["directoryName"]
            _collect(nested, json.loads((nested / "manifest.json").read_text()), assembly)


def _logical_id_paths(directory: Path, artifact: dict[str, Any]) -> dict[str, str]:
    """``aws:cdk:logicalId`` entries of the stack's metadata (inline or in its additional metadata file)."""
    metadata = dict(artifact.get("metadata") or {})
    extra = artifact.get("additionalMetadataFile")
    if extra and (directory / extra).is_file():
        metadata.update(json.loads((directory / extra).read_text()))
    paths = {}
    for path, entries in metadata.items():
        for entry in entries or []:
            if entry.get("type") == "aws:cdk:logicalId" and isinstance(entry.get("data"), str):
                paths[entry["data"]] = path.lstrip("/")
    return paths


# ---------------------------------------------------------------------------------------------- intrinsics
_SUB_VARIABLE = re.compile(r"\$\{([A-Za-z0-9:]+)(\.[A-Za-z0-9.]+)?\}")


def render(value: Any) -> str:
    """A CloudFormation value as a short readable string: ``${Logical.Arn}``, joins flattened, ``import:Name``."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float, bool)):
        return json.dumps(value)
    if isinstance(value, list):
        return ", ".join(render(item) for item in value)
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return "${" + str(argument) + "}"
        if function == "Fn::GetAtt":
            parts = argument if isinstance(argument, list) else str(argument).split(".", 1)
            return "${" + ".".join(str(part) for part in parts) + "}"
        if function == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
            separator, items = argument
            if isinstance(items, list):
                return str(separator).join(render(item) for item in items)
        if function == "Fn::Sub":
            return render(argument[0] if isinstance(argument, list) else argument)
        if function == "Fn::ImportValue":
            return f"import:{render(argument)}"
        if function == "Fn::Select" and isinstance(argument, list) and len(argument) == 2:
            return f"select({render(argument[0])}, {render(argument[1])})"
        if function == "Fn::If" and isinstance(argument, list) and len(argument) == 3:
            return f"if({argument[0]}, {render(argument[1])}, {render(argument[2])})"
    return json.dumps(value, sort_keys=True)


_LEAVES = ("Ref", "Fn::GetAtt", "Fn::Sub")


def _intrinsics(node: Any) -> Iterator[tuple[str, Any]]:
    """Every Ref, GetAtt, Sub and ImportValue in ``node`` as (function, argument). A Ref's, GetAtt's or Sub's
    argument is not searched further (but a Sub's variable map is); an ImportValue's is."""
    if isinstance(node, dict):
        if len(node) == 1:
            ((function, argument),) = node.items()
            if function in _LEAVES or function == "Fn::ImportValue":
                yield function, argument
            if function in _LEAVES:
                if function == "Fn::Sub" and isinstance(argument, list) and len(argument) > 1:
                    yield from _intrinsics(argument[1])
                return
        for item in node.values():
            yield from _intrinsics(item)
    elif isinstance(node, list):
        for item in node:
            yield from _intrinsics(item)


def references(value: Any) -> set[str]:
    """Logical ids (or pseudo parameters) that ``value`` refers to with Ref, GetAtt or Sub."""
    found: set[str] = set()
    for function, argument in _intrinsics(value):
        if function == "Ref" and isinstance(argument, str):
            found.add(argument)
        elif function == "Fn::GetAtt":
            parts = argument if isinstance(argument, list) else str(argument).split(".", 1)
            if parts and isinstance(parts[0], str):
                found.add(parts[0])
        elif function == "Fn::Sub":
            template = argument[0] if isinstance(argument, list) else argument
            if isinstance(template, str):
                found.update(match.group(1) for match in _SUB_VARIABLE.finditer(template))
    return {name for name in found if not name.startswith("AWS::")}


def imports(value: Any) -> set[str]:
    """Export names that ``value`` imports with ``Fn::ImportValue`` (only literal names)."""
    return {
        argument if isinstance(argument, str) else render(argument)
        for function, argument in _intrinsics(value)
        if function == "Fn::ImportValue"
    }


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def parse_json_property(value: Any) -> Any:
    """Some properties (EMR SecurityConfiguration) may be a JSON string or an object: always give the object."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value
