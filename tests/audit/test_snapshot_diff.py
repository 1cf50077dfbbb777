"""tools.snapshots.diff: reads syrupy's snapshot files, reports nothing when identical and each change otherwise.

Uses the session's synthesised app (``lab``) instead of synthesising again.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from tools.snapshots import diff as snapshot_diff
from tools.snapshots.normalisation import normalise_template


def current_templates(lab) -> dict[str, tuple[str, dict]]:
    return {
        attribute: (stack.stack_name, normalise_template(lab.templates[stack.stack_name]))
        for attribute, stack in snapshot_diff.stack_attributes(lab.stacks).items()
    }


def write_snapshots(directory: Path, templates: dict[str, tuple[str, dict]]) -> Path:
    """Snapshot files exactly as syrupy's JSONSnapshotExtension writes them (indented JSON)."""
    directory.mkdir(parents=True, exist_ok=True)
    for attribute, (_, template) in templates.items():
        name = f"test_template_matches_reviewed_snapshot[{attribute}].json"
        (directory / name).write_text(json.dumps(template, indent=2) + "\n")
    return directory


def test_committed_snapshots_are_read_one_per_stack_attribute(lab) -> None:
    snapshots = snapshot_diff.load_snapshots()
    assert snapshots, "expected tests/stacks/__snapshots__/test_snapshots/*.json"
    assert set(snapshots) <= set(snapshot_diff.stack_attributes(lab.stacks))
    for template in snapshots.values():
        assert isinstance(template.get("Resources"), dict) and template["Resources"]


def test_identical_templates_report_nothing_to_review(lab, tmp_path: Path) -> None:
    current = current_templates(lab)
    lines, differs = snapshot_diff.compare(current, snapshot_diff.load_snapshots(write_snapshots(tmp_path, current)))
    assert not differs
    assert all("identical" in line for line in lines) and len(lines) == len(current)


def test_a_changed_template_is_reported_resource_by_resource(lab, tmp_path: Path) -> None:
    current = current_templates(lab)
    snapshots = snapshot_diff.load_snapshots(write_snapshots(tmp_path, current))
    attribute = "storage"
    stack_name, template = current[attribute]
    changed = copy.deepcopy(template)
    bucket_id = next(k for k, r in changed["Resources"].items() if r["Type"] == "AWS::S3::Bucket")
    changed["Resources"][bucket_id]["Properties"]["VersioningConfiguration"] = {"Status": "Suspended"}
    removed_id = next(k for k, r in changed["Resources"].items() if r["Type"] == "AWS::SNS::TopicPolicy")
    del changed["Resources"][removed_id]
    changed["Resources"]["Extra"] = {"Type": "AWS::SQS::Queue", "Metadata": {"aws:cdk:path": "Storage/Extra/Resource"}}
    changed["Description"] = "changed"

    lines, differs = snapshot_diff.compare({**current, attribute: (stack_name, changed)}, snapshots)

    assert differs
    text = "\n".join(lines)
    assert f"{stack_name}: differs from test_template_matches_reviewed_snapshot[{attribute}].json" in text
    assert "+ added    AWS::SQS::Queue Extra  Storage/Extra/Resource" in text
    assert f"- removed  AWS::SNS::TopicPolicy {removed_id}" in text
    assert f"~ changed  AWS::S3::Bucket {bucket_id}" in text
    old = template["Resources"][bucket_id]["Properties"].get("VersioningConfiguration")
    if old is None:
        assert 'Properties.VersioningConfiguration: (absent) -> {"Status": "Suspended"}' in text
    else:
        assert f'Properties.VersioningConfiguration.Status: "{old["Status"]}" -> "Suspended"' in text
    assert "~ Description: " in text
    # Other stacks are untouched.
    assert sum("identical" in line for line in lines) == len(current) - 1


def test_a_stack_without_snapshot_and_a_snapshot_without_stack_both_differ(lab, tmp_path: Path) -> None:
    current = current_templates(lab)
    snapshots = snapshot_diff.load_snapshots(write_snapshots(tmp_path, current))
    snapshots["retired"] = snapshots.pop("storage")
    lines, differs = snapshot_diff.compare(current, snapshots)
    assert differs
    assert any("NEW stack, no reviewed snapshot" in line for line in lines)
    assert any(line.startswith("retired: snapshot") for line in lines)


def test_main_exits_0_when_identical_and_1_with_the_diff_when_changed(lab, tmp_path: Path, monkeypatch, capsys) -> None:
    current = current_templates(lab)
    monkeypatch.setattr(snapshot_diff, "synthesise", lambda overrides=None: current)  # no second synth
    directory = write_snapshots(tmp_path, current)

    assert snapshot_diff.main(["--snapshots", str(directory)]) == 0
    assert "differs" not in capsys.readouterr().out

    snapshot = directory / "test_template_matches_reviewed_snapshot[storage].json"
    template = json.loads(snapshot.read_text())
    template["Resources"]["Removed"] = {"Type": "AWS::SNS::Topic"}
    snapshot.write_text(json.dumps(template, indent=2))
    assert snapshot_diff.main(["--snapshots", str(directory)]) == 1
    output = capsys.readouterr().out
    assert "- removed  AWS::SNS::Topic Removed" in output and "make snapshot-update" in output
