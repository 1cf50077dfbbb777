"""The shape every audit finding takes: a plain dict, so the JSON report carries it unchanged."""

from __future__ import annotations

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
