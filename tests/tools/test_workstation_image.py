"""`make refresh-image` (tools/workstation_image.py) resolves the workstation's image once into the context file,
from AWS's public parameter for the settings' region and CPU architecture, against moto (never AWS), which serves
the public Amazon Linux parameters itself."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from stacks.settings import SettingsError, workstation_image_id
from tools.workstation_image import PUBLIC_PARAMETER, refresh


@pytest.fixture
def ssm():
    with mock_aws():
        yield boto3.client("ssm", region_name="eu-west-1")


def published(ssm, architecture: str) -> str:
    return ssm.get_parameter(Name=PUBLIC_PARAMETER.format(architecture=architecture))["Parameter"]["Value"]


def test_refresh_writes_the_image_of_the_region_and_architecture_and_keeps_other_entries(tmp_path: Path, ssm) -> None:
    context_file = tmp_path / "cdk.context.json"
    context_file.write_text(json.dumps({"availability-zones:account=1:region=eu-west-1": ["eu-west-1a"]}))
    key, image = refresh(context_file, {"region": "eu-west-1"}, ssm=ssm, if_missing=False)
    assert (key, image) == ("workstation-image:eu-west-1:arm64", published(ssm, "arm64"))
    key, image = refresh(
        context_file, {"region": "eu-west-1", "workstation_instance_type": "t3.large"}, ssm=ssm, if_missing=False
    )
    assert (key, image) == ("workstation-image:eu-west-1:x86_64", published(ssm, "x86_64"))
    cached = json.loads(context_file.read_text())
    assert len(cached) == 3
    assert workstation_image_id(cached.get, region="eu-west-1", architecture="arm64") == published(ssm, "arm64")


def test_if_missing_keeps_the_image_already_resolved(tmp_path: Path, ssm) -> None:
    context_file = tmp_path / "cdk.context.json"
    context_file.write_text(json.dumps({"workstation-image:eu-west-1:arm64": "ami-0cccccccccccccccc"}))
    assert refresh(context_file, {"region": "eu-west-1"}, ssm=ssm, if_missing=True)[1] == "ami-0cccccccccccccccc"
    assert refresh(context_file, {"region": "eu-west-1"}, ssm=ssm, if_missing=False)[1] == published(ssm, "arm64")


@pytest.mark.parametrize("value", ["latest", "ami-123", 42, "ami-0AAAAAAAAAAAAAAAA"])
def test_a_malformed_entry_fails_synth_naming_the_key_and_the_fix(value: object) -> None:
    with pytest.raises(SettingsError, match=r"'workstation-image:eu-west-2:arm64'.*make refresh-image"):
        workstation_image_id({"workstation-image:eu-west-2:arm64": value}.get, region="eu-west-2", architecture="arm64")
