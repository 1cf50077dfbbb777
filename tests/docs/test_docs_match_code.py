"""What README and docs/ say matches the code: settings, the diagram, stack ids, pointers and links."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from stacks.settings import Settings
from tools.audit.assembly import load_assembly
from tools.audit.diagram import NETWORK_BEGIN, NETWORK_END, mermaid, readme_diagram
from tools.audit.network_diagram import network_mermaid

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
SETTINGS = [field.name for field in dataclasses.fields(Settings)]


def readme_section(title: str) -> str:
    """The text of README's ``## <title>`` section (up to the next ``## ``)."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, re.S | re.M)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def test_cdk_json_says_how_to_run_the_app_and_nothing_left_from_the_template() -> None:
    """No `watch` section: `cdk watch` hot-swaps code outside CloudFormation, where neither the audit nor the
    snapshots look; the lab deploys with `make deploy`."""
    cdk_json = json.loads((ROOT / "cdk.json").read_text())
    assert set(cdk_json) == {"app", "versionReporting", "pathMetadata", "context"}


def test_cdk_json_holds_overrides_only_never_a_copy_of_a_default(cdk_context) -> None:
    """Each setting's default lives in stacks/settings.py; cdk.json holds CDK's feature flags and, if anything of ours,
    a value that differs from the default (a copy would be a second default that can drift from the first)."""
    ours = {key: value for key, value in cdk_context.items() if key in SETTINGS}
    copies = sorted(key for key, value in ours.items() if Settings.from_context({key: value}.get) == Settings())
    assert copies == [], "cdk.json repeats these settings' defaults: remove them"
    Settings.from_context(cdk_context.get, keys=cdk_context)  # SettingsError for a key that is a typo of ours


def test_readme_settings_table_documents_every_setting_and_no_other() -> None:
    rows = [line for line in readme_section("Settings").splitlines() if line.startswith("| `")]
    documented = [key for row in rows for key in re.findall(r"`([a-z0-9_]+)`", row.split("|")[1])]
    assert sorted(set(SETTINGS) - set(documented)) == [], "settings missing from README's Settings table"
    assert sorted(set(documented) - set(SETTINGS)) == [], "README documents settings that do not exist"


def as_documented(value: object) -> str:
    """A default as the README's table writes it."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return ", ".join(value)
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def test_readme_settings_table_gives_the_code_defaults() -> None:
    """A default cell is `unset`, one value for every key of its row, or one value per key, in order; a cell that
    explains instead ("unset: ...", "UK + EU regions") names a default that follows other settings or a constant."""
    defaults = Settings()
    rows = [line.split("|")[1:3] for line in readme_section("Settings").splitlines() if line.startswith("| `")]
    checked = []
    for keys_cell, default_cell in rows:
        keys, cell = re.findall(r"`([a-z0-9_]+)`", keys_cell), default_cell.strip()
        documented = ["unset"] * len(keys) if cell == "unset" else re.findall(r"`([^`]+)`", cell)
        if cell.startswith("unset:") or not documented:
            continue
        if len(documented) == 1:
            documented *= len(keys)
        assert len(documented) == len(keys), f"README's default cell for {keys} names {len(documented)} values"
        for key, text in zip(keys, documented, strict=True):
            assert as_documented(getattr(defaults, key)) == text, f"README gives {key} the default {text}"
            checked.append(key)
    # The cells that explain: the stage decides the network mode, the network mode the budget; UK_EU_REGIONS.
    assert sorted(set(SETTINGS) - set(checked)) == ["allowed_regions", "budget_monthly_usd", "network_mode"]


def test_readme_diagrams_are_the_ones_the_templates_give(lab, synth) -> None:
    current = mermaid(load_assembly(lab.outdir))
    assert readme_diagram(README) == current, "README's architecture diagram is stale: run `make diagram`"
    isolated = load_assembly(synth(network_mode="isolated").outdir)
    network = network_mermaid({"public": load_assembly(lab.outdir), "isolated": isolated})
    assert readme_diagram(README, NETWORK_BEGIN, NETWORK_END) == network, "README's network diagram: run `make diagram`"


def test_readme_names_the_real_stack_ids(lab) -> None:
    ids = [stack.node.id for stack in vars(lab.stacks).values() if stack is not None]
    assert ids, "no stacks"
    for stack_id in ids:
        assert f"| `{stack_id}` |" in readme_section("What gets deployed"), stack_id
    commands = re.findall(r"(?:npx cdk|\./cdk) (?:synth|diff|deploy) ((?:[A-Z]\w* ?)+)", README)
    assert commands, "README shows no cdk command on a stack id"
    for command in commands:
        assert set(command.split()) <= set(ids), f"README runs `cdk` on a stack that does not exist: {command}"


@pytest.mark.parametrize("folder", ["stacks", "tools", "lab_contract", "lambda_functions", "spark_jobs"])
def test_pointers_to_readme_sections_name_sections_that_exist(folder: str) -> None:
    headings = set(re.findall(r"^#+ (.+)$", README, re.M))
    for path in sorted((ROOT / folder).rglob("*.py")):
        for section in re.findall(r"README,? (?:section )?'([^']+)'", path.read_text()):
            assert section in headings, f"{path.relative_to(ROOT)} points to README section {section!r}"


@pytest.mark.parametrize("document", ["README.md", *sorted(p.name for p in (ROOT / "docs").glob("*.md"))])
def test_relative_links_in_the_docs_lead_to_files_that_exist(document: str) -> None:
    path = ROOT / document if document == "README.md" else ROOT / "docs" / document
    for target in re.findall(r"\]\((?!https?:|#)([^)#]+)", path.read_text()):
        assert (path.parent / target).exists(), f"{document} links to {target}, which does not exist"


@pytest.mark.parametrize(
    "document",
    [
        "README.md",
        "lambda_functions/README.md",
        "bench/README.md",
        *sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md")),
    ],
)
def test_repository_paths_named_in_the_docs_exist(document: str) -> None:
    """A `stacks/...`, `lab_contract/...` (and so on) path in backticks names a file or folder that is there; the
    benchmarks' results/ are written by the runs, not kept."""
    folders = "stacks|tools|tests|lambda_functions|lab_contract|spark_jobs|bench|docs"
    for path in re.findall(rf"`((?:{folders})/[\w./-]*)`", (ROOT / document).read_text()):
        if not path.startswith("bench/results/"):
            assert (ROOT / path).exists(), f"{document} names {path}, which does not exist"
