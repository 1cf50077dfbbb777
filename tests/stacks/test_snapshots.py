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


def test_normalisation_only_touches_asset_hashes(lab, normalise) -> None:
    import json
    import re

    for template in lab.templates.values():
        raw = json.dumps(template, sort_keys=True)
        assert json.dumps(normalise(template), sort_keys=True) == re.sub(r"[0-9a-f]{64}", "ASSET_HASH", raw)
