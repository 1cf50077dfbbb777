"""The CI workflow and Dependabot do what docs/ci.md says: triggers, pins, the audited assembly deployed, uncancelled."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW_TEXT = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
WORKFLOW: dict[Any, Any] = yaml.safe_load(WORKFLOW_TEXT)
USES = re.compile(r"^\s*(?:- )?uses: (?P<action>[\w.-]+/[\w.-]+)@(?P<ref>\S+)(?: # (?P<tag>v\d+\.\d+\.\d+))?$", re.M)


def steps(job: str) -> list[dict[str, Any]]:
    return WORKFLOW["jobs"][job]["steps"]


def test_runs_on_pull_requests_pushes_to_main_and_by_hand() -> None:
    triggers = WORKFLOW[True]  # YAML 1.1 reads the key `on` as True
    assert "pull_request" in triggers and "workflow_dispatch" in triggers
    assert triggers["push"]["branches"] == ["main"]


def test_every_action_is_pinned_by_commit_with_its_tag_as_docs_ci_lists_it() -> None:
    pins = list(USES.finditer(WORKFLOW_TEXT))
    assert pins and len(pins) == WORKFLOW_TEXT.count("uses: ")
    documented = (ROOT / "docs" / "ci.md").read_text()
    for pin in pins:
        assert re.fullmatch(r"[0-9a-f]{40}", pin["ref"]), f"{pin['action']} is not pinned by a full commit SHA"
        assert pin["tag"], f"{pin['action']}@{pin['ref']} has no tag comment"
        assert f"| `{pin['action']}` | {pin['tag']} | `{pin['ref']}` |" in documented, f"docs/ci.md: {pin[0].strip()}"


def test_only_pull_request_runs_are_cancelled_and_deploys_never() -> None:
    assert WORKFLOW["concurrency"]["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"
    deploy = WORKFLOW["jobs"]["deploy"]
    assert deploy["concurrency"]["cancel-in-progress"] is False
    assert deploy["if"] == "github.event_name == 'workflow_dispatch' && inputs.deploy"


def test_deploy_deploys_the_audited_assembly_without_synthesising() -> None:
    deploy = WORKFLOW["jobs"]["deploy"]
    assert set(deploy["needs"]) == {"lint", "lambda-runtime", "test", "audit"}
    uploaded = next(s for s in steps("audit") if s.get("uses", "").startswith("actions/upload-artifact@"))
    downloaded = next(s for s in deploy["steps"] if s.get("uses", "").startswith("actions/download-artifact@"))
    assert downloaded["with"]["name"] == uploaded["with"]["name"]
    assert "cdk.out/" in uploaded["with"]["path"]
    scripts = "\n".join(step.get("run", "") for step in deploy["steps"])
    assert f"cdk deploy --app {downloaded['with']['path']}/cdk.out --all" in scripts
    assert "synth" not in scripts and "make deploy" not in scripts and "make setup" not in scripts


def test_the_audit_compares_a_pull_request_with_its_base() -> None:
    base = next(
        s for s in steps("audit") if s.get("with", {}).get("ref") == "${{ github.event.pull_request.base.sha }}"
    )
    audit = next(s for s in steps("audit") if s.get("name") == "make audit")
    assert base["with"]["path"] == "build/base-src"
    assert audit["env"]["BASE_SRC"] == "${{ github.event_name == 'pull_request' && 'build/base-src' || '' }}"
    assert 'BASE_SRC="$BASE_SRC"' in audit["run"]


def test_the_audit_and_its_comment_run_beside_the_tests_not_after_them() -> None:
    jobs = WORKFLOW["jobs"]
    assert "needs" not in jobs["audit"] and "needs" not in jobs["test"]
    assert [s["run"] for s in steps("test") if "run" in s] == ["make test"]
    audit_steps = steps("audit")
    assert any(s.get("name") == "make audit" for s in audit_steps)
    assert any(s.get("uses", "").startswith("marocchino/sticky-pull-request-comment@") for s in audit_steps)
    # Only the job that comments may write to pull requests.
    assert jobs["audit"]["permissions"]["pull-requests"] == "write"
    assert "permissions" not in jobs["test"] and WORKFLOW["permissions"] == {"contents": "read"}


def test_lint_and_the_functions_python_run_in_their_own_jobs() -> None:
    assert any(s.get("run") == "make lint" for s in steps("lint"))
    runtime = steps("lambda-runtime")
    assert any(s.get("with", {}).get("python-version") == "${{ env.LAMBDA_PYTHON_VERSION }}" for s in runtime)
    assert WORKFLOW["env"]["LAMBDA_PYTHON_VERSION"] == "3.14"
    assert any("tests/lambda_functions" in s.get("run", "") for s in runtime)


@pytest.mark.parametrize("ecosystem", ["pip", "npm", "github-actions"])
def test_dependabot_keeps_each_kind_of_pin_current(ecosystem: str) -> None:
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    (update,) = [u for u in config["updates"] if u["package-ecosystem"] == ecosystem]
    assert update["directory"] == "/" and update["schedule"]["interval"]
