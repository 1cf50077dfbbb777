"""Composes the deployable stacks from validated settings; used by app.py and by the tests."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import App, Environment, Tags, Validations
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from stacks.automation_stack import AutomationStack
from stacks.cdk_generated_handlers import harden_cdk_generated_handlers
from stacks.compute_stack import ComputeStack
from stacks.residency import add_region_residency_rule
from stacks.settings import Settings
from stacks.storage_stack import StorageStack


@dataclass(frozen=True)
class LabStacks:
    storage: StorageStack
    compute: ComputeStack
    automation: AutomationStack

    def all(self) -> tuple:
        return (self.storage, self.compute, self.automation)


def build_app(app: App, settings: Settings, *, nag: bool = True) -> LabStacks:
    """Adds every stack to ``app``: tagged, residency-guarded and (with ``nag``) checked by cdk-nag."""
    env = Environment(account=settings.account, region=settings.region)
    prefix = settings.name_prefix
    storage = StorageStack(
        app,
        "Storage",
        stack_name=f"{prefix}-storage",
        description=f"{settings.project} ({settings.stage}): data buckets, alerts topic and monthly budget",
        env=env,
        settings=settings,
    )
    compute = ComputeStack(
        app,
        "Compute",
        stack_name=f"{prefix}-compute",
        description=f"{settings.project} ({settings.stage}): private VPC, EMR Spark cluster definition, workstation",
        env=env,
        settings=settings,
    )
    compute.add_stack_dependency(storage, "imports the storage stack's bucket exports")
    automation = AutomationStack(
        app,
        "Automation",
        stack_name=f"{prefix}-automation",
        description=f"{settings.project} ({settings.stage}): Lambda triggers for uploads, EMR events and spend",
        env=env,
        settings=settings,
        storage=storage,
        compute=compute,
    )
    automation.add_stack_dependency(storage, "imports the storage stack's bucket exports")
    stacks = LabStacks(storage=storage, compute=compute, automation=automation)
    for stack in stacks.all():
        add_region_residency_rule(stack, allowed_regions=settings.allowed_regions)
        harden_cdk_generated_handlers(stack, retention_days=settings.log_retention_days)
    for key, value in settings.tags.items():
        Tags.of(app).add(key, value)
    if nag:
        # Blocking packs: any unacknowledged finding fails synth.
        # Acknowledgements are also written into each resource's Metadata, so auditors see them in the template.
        Validations.of(app).add_plugins(
            AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True),
            ServerlessChecks(app, write_suppressions_to_cloud_formation=True),
        )
    return stacks
