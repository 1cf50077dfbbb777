"""Data residency guard carried inside every template."""

from __future__ import annotations

from aws_cdk import Aws, CfnRule, CfnRuleAssertion, Fn, Stack


def add_region_residency_rule(stack: Stack, *, allowed_regions: tuple[str, ...]) -> CfnRule:
    """Adds a CloudFormation ``Rules`` entry that refuses to create or update the stack outside the allow-list.

    The settings check already stops ``cdk synth`` for a region outside the list; this rule keeps the guard in
    the template itself, so it still holds when the synthesised CloudFormation is deployed without CDK.
    """
    return CfnRule(
        stack,
        "RegionResidency",
        assertions=[
            CfnRuleAssertion(
                assert_=Fn.condition_contains(list(allowed_regions), Aws.REGION),
                assert_description=(
                    "Data residency (UK/EU GDPR): this stack may only be deployed to "
                    + ", ".join(allowed_regions)
                    + ". Another region needs a reviewed change to UK_EU_REGIONS in stacks/settings.py."
                ),
            )
        ],
    )
