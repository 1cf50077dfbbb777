"""What CloudFormation does to each resource a change touches: adds, updates in place, replaces or removes it.

Replacement comes from the CloudFormation resource schemas (the registry's provider schemas, which cfn-lint ships
in its package data: read here offline, for the stacks' region). A schema's ``createOnlyProperties`` cannot change
in place: changing, adding or removing one replaces the resource, a new physical resource (a new, empty bucket; a
new instance) created before the old one is deleted ("Understand update behaviors of stack resources", CloudFormation
User Guide; "Resource type schema", CloudFormation CLI User Guide). Its ``conditionalCreateOnlyProperties`` replace
it only in some cases: where the resource's template reference says which (an EBS-backed instance's type is
"Update requires: Some interruptions", a stop and a start), the change is that update; otherwise the resource *may
be* replaced, and the reason says which property. CDK's own diff calls every conditional property "may be replaced".

A resource whose template text is unchanged is still touched when what it refers to is: a create-only property that
``Ref``\\s or ``GetAtt``\\s a replaced resource gets a new value (replaced in turn, as CDK's diff shows for a bucket's
policy), one that reads an attribute of a resource updated in place may get one (a launch template's
``LatestVersionNumber``), and any other property referring to a replaced resource is updated with the new id. An
export whose value changes while another stack imports it stops the deployment: CloudFormation refuses to modify an
output value that another stack references (``Fn::ImportValue``, CloudFormation Template Reference).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from tools.audit.assembly import CloudAssembly, StackTemplate, imports

ADDED, UPDATED, MAY_BE_REPLACED, REPLACED, REMOVED = "added", "changed", "may be replaced", "replaced", "removed"
ACTIONS = (ADDED, UPDATED, MAY_BE_REPLACED, REPLACED, REMOVED)  # the order a summary counts them in
# Resource attributes CloudFormation applies without touching the resource itself.
_POLICY_ATTRIBUTES = (
    "DeletionPolicy",
    "UpdateReplacePolicy",
    "UpdatePolicy",
    "CreationPolicy",
    "DependsOn",
    "Condition",
)
# Conditional create-only properties whose reference page gives the update as "Some interruptions" (AWS::EC2::Instance,
# CloudFormation Template Reference): an EBS-backed instance, as every Amazon Linux 2023 AMI is, is stopped, changed
# and started again; an instance-store-backed one would be replaced.
_RESTARTS = {("AWS::EC2::Instance", name) for name in ("InstanceType", "UserData", "EbsOptimized")}
_ABSENT = "<absent>"


@dataclass(frozen=True)
class ResourceChange:
    """One resource a change touches, and why CloudFormation treats it so (one phrase per reason)."""

    logical_id: str
    path: str
    resource_type: str
    action: str
    reasons: tuple[str, ...] = ()  # why it is replaced, restarted or touched at all
    properties: tuple[str, ...] = ()  # the properties an update in place changes

    def describe(self) -> str:
        detail = self.reasons or self.properties
        return f"{self.path} ({'; '.join(detail)})" if detail else self.path


@dataclass
class StackChanges:
    """The resources of one stack a change touches, in template order, and what stops it deploying."""

    stack: str
    resources: list[ResourceChange] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        found = {action: sum(1 for change in self.resources if change.action == action) for action in ACTIONS}
        return {action: count for action, count in found.items() if count}


# ---------------------------------------------------------------------------------------------- the schemas
def _schema_directory() -> Path:
    """cfn-lint's copy of the provider schemas, found without importing cfn-lint (a second's import)."""
    spec = find_spec("cfnlint")
    if spec is None or spec.origin is None:
        raise RuntimeError("cfn-lint is not installed: the resource schemas come with it")
    return Path(spec.origin).parent / "data" / "schemas"


@cache
def _providers(region: str) -> dict[str, str]:
    """Resource type -> schema file, as the region's registry has them (us-east-1's for a region cfn-lint lacks)."""
    providers = _schema_directory() / "providers"
    chosen = providers / f"{region}.json"
    return json.loads((chosen if chosen.is_file() else providers / "us-east-1.json").read_text())


@cache
def create_only(resource_type: str, region: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """(create-only, conditionally create-only) property pointers of a type, or None when no schema is known.

    A custom resource (``Custom::*``) is an ``AWS::CloudFormation::CustomResource``: its ``ServiceToken`` is
    create-only, and its provider decides about the rest.
    """
    lookup = "AWS::CloudFormation::CustomResource" if resource_type.startswith("Custom::") else resource_type
    schema_id = _providers(region).get(lookup)
    if not isinstance(schema_id, str):
        return None
    schema = json.loads((_schema_directory() / "resources" / f"{schema_id}.json").read_text())
    return tuple(schema.get("createOnlyProperties", ())), tuple(schema.get("conditionalCreateOnlyProperties", ()))


# ---------------------------------------------------------------------------------------------- values
def _is_intrinsic(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)).startswith(("Ref", "Fn::"))


def values_at(properties: dict[str, Any], pointer: str) -> list[Any]:
    """The values a schema pointer (``/properties/Budget/BudgetName``, ``*`` for every item) selects; an absent
    value is ``<absent>``, and a computed one (an intrinsic function) stands whole for what it computes."""
    values: list[Any] = [properties]
    for part in pointer.split("/")[2:]:
        found: list[Any] = []
        for value in values:
            if _is_intrinsic(value) or value == _ABSENT:
                found.append(value)
            elif part == "*" and isinstance(value, list):
                found.extend(value)
            elif isinstance(value, dict):
                found.append(value.get(part, _ABSENT))
            else:
                found.append(_ABSENT)
        values = found
    return values


def _label(pointer: str) -> str:
    return ".".join(part for part in pointer.split("/")[2:] if part != "*")


def _references(value: Any) -> Iterator[tuple[str, bool]]:
    """(logical id, whether an attribute is read) for each Ref, GetAtt and Sub variable in a value."""
    if isinstance(value, list):
        for item in value:
            yield from _references(item)
    elif isinstance(value, dict):
        if len(value) == 1:
            ((function, argument),) = value.items()
            if function == "Ref" and isinstance(argument, str):
                yield argument, False
                return
            if function == "Fn::GetAtt":
                parts = argument if isinstance(argument, list) else str(argument).split(".", 1)
                yield str(parts[0]), True
                return
            if function == "Fn::Sub":
                text, variables = [*argument, {}][:2] if isinstance(argument, list) else (argument, {})
                for name in _sub_variables(str(text)):
                    yield name.split(".", 1)[0], "." in name
                yield from _references(variables)
                return
        for item in value.values():
            yield from _references(item)


def _sub_variables(text: str) -> Iterator[str]:
    start = text.find("${")
    while start != -1:
        end = text.find("}", start)
        if end == -1:
            return
        if not text.startswith("${!", start):
            yield text[start + 2 : end]
        start = text.find("${", end)


def _comparable(resource: dict[str, Any]) -> dict[str, Any]:
    """A resource without CDK's own metadata (construct paths, asset markers), which CloudFormation ignores."""
    metadata = {
        key: value
        for key, value in (resource.get("Metadata") or {}).items()
        if not key.startswith(("aws:cdk:", "aws:asset:"))
    }
    return {**resource, "Metadata": metadata}


# ---------------------------------------------------------------------------------------------- one resource
def direct_change(before: dict[str, Any], after: dict[str, Any], region: str) -> tuple[str, tuple[str, ...]] | None:
    """What a change to this resource's own template text does: (action, reasons); None when nothing that
    CloudFormation acts on changed (CDK's metadata, audit exceptions in Metadata)."""
    resource_type = after.get("Type", "?")
    if before.get("Type") != resource_type:
        return REPLACED, (f"its type changed from {before.get('Type')}",)
    old, new = before.get("Properties") or {}, after.get("Properties") or {}
    if old == new:
        changed = [name for name in _POLICY_ATTRIBUTES if before.get(name) != after.get(name)]
        return (UPDATED, tuple(f"{name} only" for name in changed)) if changed else None
    pointers = create_only(resource_type, region)
    if pointers is None:
        return MAY_BE_REPLACED, (f"no resource schema for {resource_type}",)
    always, sometimes = pointers
    replaced = [f"{_label(p)} is create-only" for p in always if values_at(old, p) != values_at(new, p)]
    if replaced:
        return REPLACED, tuple(replaced)
    conditional = [p for p in sometimes if values_at(old, p) != values_at(new, p)]
    restarts = [_label(p) for p in conditional if (resource_type, _label(p)) in _RESTARTS]
    uncertain = [_label(p) for p in conditional if (resource_type, _label(p)) not in _RESTARTS]
    if uncertain:
        return MAY_BE_REPLACED, tuple(f"{name} is create-only in some cases" for name in uncertain)
    if restarts:
        return UPDATED, tuple(
            f"{name}: an update with a restart (stop and start), not a replacement" for name in restarts
        )
    if resource_type.startswith("Custom::"):
        return UPDATED, ("a custom resource: its provider decides whether to replace it",)
    return UPDATED, ()


def _knock_on(
    resource: dict[str, Any], region: str, replaced: dict[str, str], updated: dict[str, str]
) -> tuple[str, str] | None:
    """What a resource whose own text is unchanged suffers from the resources it refers to (by logical id ->
    path): (action, reason), or None."""
    properties = resource.get("Properties") or {}
    pointers = create_only(resource.get("Type", "?"), region) or ((), ())
    for pointer in pointers[0]:
        for name, attribute in _references(values_at(properties, pointer)):
            if name in replaced:
                return REPLACED, f"{_label(pointer)} refers to {replaced[name]}, which is replaced"
            if attribute and name in updated:
                return MAY_BE_REPLACED, f"{_label(pointer)} is create-only and reads an attribute of {updated[name]}"
    for name, _ in _references(properties):
        if name in replaced:
            return UPDATED, f"refers to {replaced[name]}, which is replaced"
    return None


# ---------------------------------------------------------------------------------------------- one stack
def stack_changes(before: StackTemplate | None, after: StackTemplate | None, region: str) -> StackChanges:
    """Every resource of one stack the change touches (either side may be absent: a stack added or removed)."""
    old = before.resources if before else {}
    new = after.resources if after else {}
    named = after or before
    assert named is not None
    found: dict[str, ResourceChange] = {}
    renamed = _renamed(before, after) if before and after else {}
    for logical_id, resource in new.items():
        if logical_id in renamed:
            reason = f"its logical id changed from {renamed[logical_id]}: CloudFormation creates it anew"
            found[logical_id] = _change(after, logical_id, REPLACED, (reason,))
        elif logical_id not in old:
            found[logical_id] = _change(after, logical_id, ADDED)
        elif _comparable(old[logical_id]) != _comparable(resource):
            verdict = direct_change(old[logical_id], resource, region)
            if verdict:
                found[logical_id] = _change(after, logical_id, *verdict, _changed(old[logical_id], resource))
    for logical_id in old.keys() - new.keys() - set(renamed.values()):
        found[logical_id] = _change(before, logical_id, REMOVED)
    _spread(after, new, found, region)
    order = list(new) + [logical_id for logical_id in old if logical_id not in new]
    return StackChanges(named.artifact_id, [found[key] for key in order if key in found])


def _change(
    stack: StackTemplate | None,
    logical_id: str,
    action: str,
    reasons: tuple[str, ...] = (),
    properties: tuple[str, ...] = (),
) -> ResourceChange:
    assert stack is not None
    resource_type = stack.resources[logical_id].get("Type", "?")
    return ResourceChange(logical_id, _short(stack.path_of(logical_id)), resource_type, action, reasons, properties)


def _changed(before: dict[str, Any], after: dict[str, Any]) -> tuple[str, ...]:
    """The properties (and resource attributes) whose text differs."""
    old, new = before.get("Properties") or {}, after.get("Properties") or {}
    names = [name for name in sorted(old.keys() | new.keys()) if old.get(name) != new.get(name)]
    return tuple(names + [name for name in _POLICY_ATTRIBUTES if before.get(name) != after.get(name)])


def _short(path: str) -> str:
    """``Buckets/Results`` for ``Storage/Buckets/Results/Resource``: the construct, as CDK's diff names it."""
    path = path.split("/", 1)[1] if "/" in path else path
    return path.removesuffix("/Resource").removesuffix("/Default")


def _renamed(before: StackTemplate, after: StackTemplate) -> dict[str, str]:
    """New logical id -> old one, for a resource that kept its construct path and type under a new logical id."""
    gone = {
        (before.path_of(logical_id), resource.get("Type")): logical_id
        for logical_id, resource in before.resources.items()
        if logical_id not in after.resources
    }
    return {
        logical_id: gone[(after.path_of(logical_id), resource.get("Type"))]
        for logical_id, resource in after.resources.items()
        if logical_id not in before.resources and (after.path_of(logical_id), resource.get("Type")) in gone
    }


def _spread(
    stack: StackTemplate | None, resources: dict[str, Any], found: dict[str, ResourceChange], region: str
) -> None:
    """Adds the resources touched through their references, until nothing more is."""
    while stack is not None:
        replaced = {key: change.path for key, change in found.items() if change.action == REPLACED}
        updated = {key: change.path for key, change in found.items() if change.action in (UPDATED, MAY_BE_REPLACED)}
        more = {}
        for logical_id, resource in resources.items():
            if logical_id in found and found[logical_id].action in (ADDED, REPLACED, REMOVED):
                continue
            verdict = _knock_on(resource, region, replaced, updated)
            if verdict and _stronger(verdict[0], found.get(logical_id)):
                more[logical_id] = verdict
        if not more:
            return
        for logical_id, (action, reason) in more.items():
            earlier = found.get(logical_id)
            reasons = (*earlier.reasons, reason) if earlier else (reason,)
            found[logical_id] = _change(stack, logical_id, action, reasons, earlier.properties if earlier else ())


def _stronger(action: str, current: ResourceChange | None) -> bool:
    rank = {UPDATED: 0, MAY_BE_REPLACED: 1, REPLACED: 2}
    return current is None or rank[action] > rank.get(current.action, 3)


# ---------------------------------------------------------------------------------------------- the assembly
def assembly_changes(before: CloudAssembly, after: CloudAssembly, region: str) -> dict[str, StackChanges]:
    """Per stack id (either assembly's), the resources the change touches; exports a replacement would change
    while another stack imports them are named as what blocks the deployment."""
    old = {stack.artifact_id: stack for stack in before.stacks}
    new = {stack.artifact_id: stack for stack in after.stacks}
    result = {
        key: stack_changes(old.get(key), new.get(key), region) for key in list(new) + [k for k in old if k not in new]
    }
    importers = {name: stack.artifact_id for stack in after.stacks for name in imports(stack.template.get("Resources"))}
    for key, stack in new.items():
        touched = {c.logical_id: c for c in result[key].resources if c.action in (REPLACED, MAY_BE_REPLACED, REMOVED)}
        for output in (stack.template.get("Outputs") or {}).values():
            name = (output.get("Export") or {}).get("Name")
            hits = [touched[ref] for ref, _ in _references(output.get("Value")) if ref in touched]
            if isinstance(name, str) and hits and name in importers:
                result[key].blocked.append(
                    f"the export {name} follows {hits[0].path}, which is {hits[0].action}, while {importers[name]} "
                    "imports it: CloudFormation refuses to change an export another stack uses"
                )
    return result
