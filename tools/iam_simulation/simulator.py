"""Runs IAM requests through @cloud-copilot/iam-simulate (Node, tools/iam_simulation/simulate.mjs), offline."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.iam_simulation.deployment import Deployment
from tools.iam_simulation.managed_policies import DOCUMENTS, UNEVALUATED
from tools.iam_simulation.requests import Request

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).resolve().with_name("simulate.mjs")


def is_service_principal(principal: str) -> bool:
    """An AWS service acting for the account ("budgets.amazonaws.com"): only resource policies speak for it."""
    return not principal.startswith("arn:") and principal.endswith(".amazonaws.com")


class SimulatorError(RuntimeError):
    """The simulator could not evaluate a request (an invalid policy, action, resource or context key)."""


@dataclass(frozen=True)
class Verdict:
    request: Request
    result: str  # Allowed | ImplicitlyDenied | ExplicitlyDenied

    @property
    def allowed(self) -> bool:
        return self.result == "Allowed"

    def line(self) -> str:
        return f"{self.result:16} {self.request.action} on {self.request.resource} ({self.request.why})"


def node() -> str:
    """The project's Node (.venv/bin/node), else the one on PATH."""
    local = ROOT / ".venv" / "bin" / "node"
    found = str(local) if local.exists() else shutil.which("node")
    if found is None:
        raise SimulatorError("no node found: run `make setup`")
    return found


def _identity_policies(principal: str, deployment: Deployment) -> list[dict[str, Any]]:
    """The role's own policies and the documented managed ones; none for a service principal. AWS managed policies
    are evaluated from their documented statements or left out for a reviewed reason (managed_policies.py); a role
    with any other fails the check until it is reviewed."""
    if is_service_principal(principal):
        return []
    role_name = principal.rsplit("/", 1)[-1]
    managed = deployment.managed_policy_arns(role_name)
    unknown = set(managed) - set(UNEVALUATED) - set(DOCUMENTS)
    if unknown:
        raise SimulatorError(f"{role_name} has managed policies the simulation does not know: {sorted(unknown)}")
    documented = [{"name": arn.rsplit("/", 1)[-1], "policy": DOCUMENTS[arn]} for arn in managed if arn in DOCUMENTS]
    return deployment.identity_policies(role_name) + documented


def simulate(requests: list[Request], deployment: Deployment) -> list[Verdict]:
    """Each request evaluated against its principal's policies from ``deployment`` and its resource's policy."""
    cases: list[dict[str, Any]] = []
    for request in requests:
        resource_policy = deployment.resource_policy(request.resource) if request.resource != "*" else None
        cases.append(
            {
                "request": request.as_json(),
                "account": deployment.account,
                "identityPolicies": _identity_policies(request.principal, deployment),
                "resourcePolicy": resource_policy,
            }
        )
    completed = subprocess.run(
        [node(), str(SCRIPT)],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "NODE_NO_WARNINGS": "1"},
        timeout=300,
        check=False,
    )
    if completed.returncode != 0:
        raise SimulatorError(f"simulate.mjs exited {completed.returncode}: {completed.stderr[-3000:]}")
    results = json.loads(completed.stdout)
    errors = [
        (request, result["errors"]) for request, result in zip(requests, results, strict=True) if result["errors"]
    ]
    if errors:
        raise SimulatorError(f"{len(errors)} requests could not be evaluated, first: {errors[0]}")
    return [Verdict(request, result["result"]) for request, result in zip(requests, results, strict=True)]
