"""prod's stacks are protected from deletion ("Protect a CloudFormation stack from being deleted": a protected stack's
deletion fails and the stack remains unchanged); dev's are not. `make destroy` lifts the protection after the user
confirms (tests/tools/test_deployment.py)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(("stage", "protected"), [("dev", False), ("prod", True)])
def test_termination_protection_follows_the_stage(synth, stage: str, protected: bool) -> None:
    app = synth(nag=False, stage=stage, budget_email="budget@example.com")
    stacks = app.assembly.stacks
    assert len(stacks) == 3
    assert {stack.stack_name: stack.termination_protection for stack in stacks} == {
        f"ml-lab-{stage}-{suffix}": protected for suffix in ("storage", "compute", "automation")
    }
