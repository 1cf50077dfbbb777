"""The shape every audit finding takes: a plain dict, so the JSON report carries it unchanged."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from tools.audit.assembly import CloudAssembly

# (rule, reason, extra fields) for each exception a tool records in one resource's Metadata
ExceptionEntries = Callable[[dict[str, Any]], Iterable[tuple[str, str, dict[str, Any]]]]


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


def recorded_exceptions(assembly: CloudAssembly, tool: str, entries: ExceptionEntries) -> list[dict[str, Any]]:
    """Every exception (acknowledgement, ignore, skip) ``entries`` reads from a resource's Metadata, with its reason."""
    return [
        {
            "tool": tool,
            "rule": rule,
            "stack": stack.stack_name,
            "resource": logical_id,
            "path": stack.path_of(logical_id),
            "reason": reason,
            **extra,
        }
        for stack in assembly.stacks
        for logical_id, resource in stack.resources.items()
        for rule, reason, extra in entries(resource.get("Metadata") or {})
    ]
