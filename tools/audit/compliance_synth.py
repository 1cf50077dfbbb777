"""Child process of ``tools.audit``: synthesises the app with the informational cdk-nag packs added.

HIPAA Security and NIST 800-53 rev5 are reported, never enforced: their findings make ``app.synth()`` raise
``ValidationFailed`` after writing ``validation-report.json`` into ``--outdir``, which the audit then reads.
The blocking packs (AwsSolutions, Serverless) are added exactly as ``cdk synth`` adds them, so the templates
written here can be compared with cdk.out to prove the report describes the same app.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--outdir", required=True, type=Path)
    parser.add_argument("--context-json", default="{}", help="context overrides on top of cdk.json's context")
    args = parser.parse_args(argv)

    from aws_cdk import App, Validations
    from cdk_nag import HIPAASecurityChecks, NIST80053R5Checks

    from stacks.app_builder import build_app
    from stacks.settings import Settings

    root = Path(__file__).resolve().parents[2]
    context = {**json.loads((root / "cdk.json").read_text())["context"], **json.loads(args.context_json)}
    app = App(context=context, outdir=str(args.outdir))
    build_app(app, Settings.from_context(app.node.try_get_context))
    Validations.of(app).add_plugins(HIPAASecurityChecks(app), NIST80053R5Checks(app))
    try:
        app.synth()
    except RuntimeError as error:
        if "ValidationFailed" not in str(error):
            raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
