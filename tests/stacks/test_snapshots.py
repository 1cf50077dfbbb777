"""One reviewed snapshot per stack template, in each network mode. Update on purpose with `make snapshot-update` and
say why in the commit."""

from __future__ import annotations

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

STACKS = ["storage", "compute", "automation"]


@pytest.fixture
def json_snapshot(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("stack", STACKS)
def test_template_matches_reviewed_snapshot(lab, normalise, json_snapshot, stack: str) -> None:
    """The default app: dev stage, public network mode."""
    assert normalise(lab.template(stack)) == json_snapshot


@pytest.mark.parametrize("stack", STACKS)
def test_isolated_template_matches_reviewed_snapshot(synth, normalise, json_snapshot, stack: str) -> None:
    """The isolated network mode (prod's default), with a placeholder wheelhouse (its hash is normalised away)."""
    assert normalise(synth(network_mode="isolated").template(stack)) == json_snapshot


def test_normalisation_only_replaces_asset_hashes_and_reorders_lists_naming_assets(lab, normalise) -> None:
    import json
    import re

    def sorted_asset_lists(node):
        if isinstance(node, dict):
            return {key: sorted_asset_lists(value) for key, value in node.items()}
        if isinstance(node, list):
            items = [sorted_asset_lists(item) for item in node]
            if "ASSET_HASH" in json.dumps(items):
                return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
            return items
        return node

    for template in lab.templates.values():
        replaced = json.loads(re.sub(r"[0-9a-f]{64}", "ASSET_HASH", json.dumps(template, sort_keys=True)))
        assert sorted_asset_lists(normalise(template)) == sorted_asset_lists(replaced)
        assert "ASSET_HASH" in json.dumps(normalise(template)) or not re.search(r"[0-9a-f]{64}", json.dumps(template))


def test_a_changed_asset_does_not_reorder_an_unchanged_policy(normalise) -> None:
    """CDK orders a merged statement's resources by their text, hashes included: two builds of the same policy
    whose assets changed list them in another order, and must normalise to the same snapshot."""

    def policy(script_hash: str, wheelhouse_hash: str) -> dict:
        objects = sorted([f"arn:aws:s3:::assets/{script_hash}.py", f"arn:aws:s3:::assets/{wheelhouse_hash}.zip"])
        statement = {"Action": "s3:GetObject", "Effect": "Allow", "Resource": objects}
        return {
            "Resources": {
                "Policy": {"Type": "AWS::IAM::Policy", "Properties": {"PolicyDocument": {"Statement": [statement]}}}
            }
        }

    assert normalise(policy("a" * 64, "f" * 64)) == normalise(policy("f" * 64, "a" * 64))
    assert policy("a" * 64, "f" * 64) != policy("f" * 64, "a" * 64)
