"""What the emulator does not model, asserted from the synthesised templates instead (no emulator needed).

A green lifecycle run proves only what moto models; these tests cover the rest of what the app relies on.
"""

from __future__ import annotations

from collections.abc import Callable

import lifecycle_support as lifecycle
import pytest
import unmodelled_support as unmodelled

from tools.context import settings_from


def test_every_type_the_emulator_does_not_model_has_template_assertions(
    variants: dict[str, lifecycle.Assembly],
) -> None:
    unmodelled_types = {
        t
        for assembly in variants.values()
        for t in assembly.types()
        if t not in lifecycle.moto_cloudformation_types() or lifecycle.is_custom_resource(t)
    }
    missing = unmodelled_types - set(unmodelled.TYPE_ASSERTIONS)
    assert not missing, f"moto 5.2 does not model {sorted(missing)}: add template assertions to unmodelled_support.py"


@pytest.mark.parametrize("resource_type", sorted(unmodelled.TYPE_ASSERTIONS))
def test_unmodelled_type(any_assembly: Callable[[str], lifecycle.Assembly], resource_type: str) -> None:
    """Run on the app as cdk.json configures it, or on its standing-cluster variant for the types only that has."""
    unmodelled.TYPE_ASSERTIONS[resource_type](any_assembly(resource_type))


@pytest.mark.parametrize("bucket_property", sorted(unmodelled.BUCKET_PROPERTY_ASSERTIONS))
def test_bucket_property_the_emulator_ignores(assembly: lifecycle.Assembly, bucket_property: str) -> None:
    unmodelled.BUCKET_PROPERTY_ASSERTIONS[bucket_property](assembly)


def test_residency_rule_in_every_template(assembly: lifecycle.Assembly) -> None:
    """moto ignores a template's Rules section: the residency guard is asserted here, not by the deployment."""
    allowed = list(settings_from({}).allowed_regions)
    for stack in assembly.stacks:
        assertion = stack.template["Rules"]["RegionResidency"]["Assertions"][0]["Assert"]
        assert assertion == {"Fn::Contains": [allowed, {"Ref": "AWS::Region"}]}, stack.stack_name
