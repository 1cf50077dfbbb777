"""Running tools.audit in a test: stub scanners (fast, predictable) and the report it writes."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tools.audit import cli as audit_cli


@dataclass
class AuditTools:
    """Stub scanners written into ``directory``, and ``run`` that audits an assembly into a fresh report dir."""

    directory: Path
    runs: int = 0

    def stub_checkov(self, failed: list[dict[str, Any]] | None = None) -> Path:
        """An executable that answers like ``checkov --output json`` with the given failed checks."""
        report = {
            "check_type": "cloudformation",
            "results": {"passed_checks": [], "failed_checks": failed or [], "skipped_checks": []},
            "summary": {"passed": 0, "failed": len(failed or []), "skipped": 0, "parsing_errors": 0},
        }
        return self._script("checkov-stub", f"print({json.dumps(json.dumps(report))})")

    def stub_cfn_lint(self) -> Path:
        """An executable that answers like ``cfn-lint --format json`` finding nothing."""
        return self._script("cfn-lint-stub", "print('[]')")

    def _script(self, name: str, body: str) -> Path:
        script = self.directory / name
        script.write_text(f"#!{sys.executable}\n{body}\n")
        script.chmod(0o755)
        return script

    def run(self, cdk_out: Path, checkov: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
        """(exit status, audit.json, audit.md) of ``python -m tools.audit`` over ``cdk_out``."""
        self.runs += 1
        report_dir = self.directory / f"reports-{self.runs}"
        status = audit_cli.main(
            ["--cdk-out", str(cdk_out), "--checkov", str(checkov), "--report-dir", str(report_dir), *extra]
        )
        return status, json.loads((report_dir / "audit.json").read_text()), (report_dir / "audit.md").read_text()

    def run_stubbed(self, cdk_out: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
        """The audit with both scanners stubbed (finding nothing) and no informational synthesis."""
        return self.run(
            cdk_out, self.stub_checkov(), "--skip-compliance", "--cfn-lint", str(self.stub_cfn_lint()), *extra
        )


@pytest.fixture
def audit_tools(tmp_path: Path) -> AuditTools:
    return AuditTools(tmp_path)
