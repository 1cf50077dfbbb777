"""The shape every audit finding takes: a plain dict, so the JSON report carries it unchanged."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from tools.audit.assembly import CloudAssembly


def finding(
    tool: str, rule: str, stack: str, resource: str, path: str, message: str, *, blocking: bool, level: str = "error"
) -> dict[str, Any]:
    return {
        "tool": tool,
        "rule": rule,
        "stack": stack,
        "resource": resource,
        "path": path,
        "message": message,
        "blocking": blocking,
        "level": level,
    }


def stack_of_path(assembly: CloudAssembly, construct_path: str) -> tuple[str, str]:
    """(stack name, logical id) of a construct path, matched against each template's aws:cdk:path."""
    for stack in assembly.stacks:
        for logical_id in stack.resources:
            if stack.path_of(logical_id) == construct_path:
                return stack.stack_name, logical_id
    top = construct_path.split("/", 1)[0]
    for stack in assembly.stacks:
        if stack.artifact_id == top:
            return stack.stack_name, ""
    return top, ""


def recorded_exceptions(
    assembly: CloudAssembly, tool: str, entries: Callable[[dict[str, Any]], Iterable[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """One row per exception that ``entries`` reads from a resource's Metadata (each gives at least rule, reason)."""
    return [
        {"tool": tool, "stack": stack.stack_name, "resource": logical_id, "path": stack.path_of(logical_id), **entry}
        for stack in assembly.stacks
        for logical_id, resource in stack.resources.items()
        for entry in entries(resource.get("Metadata") or {})
    ]
