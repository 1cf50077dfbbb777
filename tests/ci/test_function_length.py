"""No function outside tests is longer than 60 lines unless a comment right above it says why it is clearest long."""

from __future__ import annotations

import ast
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 60
# Folders that are not the project's own code: installed environments, generated output, and the tests (a test may
# tell one long story in one function).
SKIPPED = {".git", ".venv", ".venv-checkov", "node_modules", "tests", "build", "reports", "runs", "results"}
REASON = "# long function:"


def project_sources() -> list[Path]:
    sources = []
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [name for name in subfolders if name not in SKIPPED and not name.startswith("cdk.out")]
        sources += [Path(folder) / name for name in files if name.endswith(".py")]
    return sorted(sources)


def long_functions_without_reason(source: str) -> list[tuple[str, int, int]]:
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        length = (node.end_lineno or node.lineno) - node.lineno + 1
        first = min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])
        above = lines[first - 2].strip() if first >= 2 else ""
        if length > LIMIT and not (above.startswith(REASON) and len(above) > len(REASON) + 10):
            found.append((node.name, node.lineno, length))
    return found


def test_no_function_over_60_lines_without_a_reason() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line} {name} ({length} lines)"
        for path in project_sources()
        for name, line, length in long_functions_without_reason(path.read_text())
    ]
    assert not offenders, f"split these, or say above each why it is clearest long ({REASON} ...): {offenders}"


def test_the_check_sees_a_long_function_and_accepts_a_reason() -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(LIMIT))
    assert long_functions_without_reason(f"def long():\n{body}") == [("long", 1, LIMIT + 1)]
    assert long_functions_without_reason(f"def short():\n{body[: -len(f'    x{LIMIT - 1} = {LIMIT - 1}') - 1]}") == []
    reasoned = f"# long function: one table of cases, read top to bottom\ndef long():\n{body}"
    assert long_functions_without_reason(reasoned) == []
    assert long_functions_without_reason(f"# long function:\ndef long():\n{body}") == [("long", 2, LIMIT + 1)]
