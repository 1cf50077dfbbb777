"""Resolves the workstation's Amazon Linux 2023 image once and keeps it in cdk.context.json (`make refresh-image`).

The template then names that image, so a deployment never replaces the workstation because AWS published a newer
one ("class AmazonLinux2023ImageSsmParameter", AWS CDK API Reference: without caching "the newest image is used on
each deployment. This will cause instances to be replaced whenever a new version is released"); refreshing is a
deliberate step whose change shows in `make diff` and the snapshots. Resolving needs AWS credentials (an SSM
GetParameter of the public parameter the CDK reads for the image, in the settings' region), which is why CDK's own
``cached_in_context`` is not used: it needs an account at synth, and this app synthesises without one. Synthesising
never calls AWS: without the entry the template resolves the latest image at each deployment instead.

    python -m tools.workstation_image [--if-missing] [-c key=value ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from stacks.constructs.workstation import cpu_architecture
from stacks.settings import WORKSTATION_IMAGE_CONTEXT_KEY
from tools.context import parse_context, settings_from

ROOT = Path(__file__).resolve().parents[1]
CONTEXT_FILE = ROOT / "cdk.context.json"
# AWS's public parameter for the latest Amazon Linux 2023 image per CPU architecture: the one the template resolves
# without a cached image (MachineImage.latest_amazon_linux2023, kernel 6.1).
PUBLIC_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-6.1-{architecture}"


def resolve(ssm: Any, architecture: str) -> str:
    """The latest Amazon Linux 2023 image id for ``architecture`` (arm64, x86_64), from AWS's public parameter."""
    return str(ssm.get_parameter(Name=PUBLIC_PARAMETER.format(architecture=architecture))["Parameter"]["Value"])


def refresh(context_file: Path, overrides: dict[str, Any], *, ssm: Any, if_missing: bool) -> tuple[str, str]:
    """Writes the image of the settings' region and architecture into ``context_file``: (key, image id)."""
    settings = settings_from(overrides)
    architecture = cpu_architecture(settings.workstation_instance_type)
    key = WORKSTATION_IMAGE_CONTEXT_KEY.format(region=settings.region, architecture=architecture)
    cached = json.loads(context_file.read_text()) if context_file.exists() else {}
    if if_missing and cached.get(key):
        return key, str(cached[key])
    cached[key] = resolve(ssm, architecture)
    context_file.write_text(json.dumps(cached, indent=2, sort_keys=True) + "\n")
    return key, cached[key]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--if-missing", action="store_true", help="keep an image already resolved")
    parser.add_argument("-c", "--context", action="append", default=[], help="key=value, as cdk takes it")
    args = parser.parse_args(argv)
    try:
        overrides = parse_context(args.context)
        import boto3

        region = settings_from(overrides).region
        key, image = refresh(
            CONTEXT_FILE, overrides, ssm=boto3.client("ssm", region_name=region), if_missing=args.if_missing
        )
    except Exception as error:  # one line, whatever failed (settings, credentials, the call)
        print(f"refresh-image: {error}", file=sys.stderr)
        return 2
    print(f"{key} = {image} (cdk.context.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
