"""Automation: the Lambda functions and triggers that run the job and bound spend."""

from __future__ import annotations

from typing import Any

from constructs import Construct

from stacks.automation import JobAutomation
from stacks.compute_stack import ComputeStack
from stacks.lab_stack import LabStack
from stacks.settings import Settings
from stacks.shared_buckets import SharedBuckets
from stacks.storage_stack import StorageStack


class AutomationStack(LabStack):
    """Event-driven functions: no servers, billed per invocation. Deploy after storage and compute."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        storage: StorageStack,
        compute: ComputeStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        buckets = SharedBuckets(self, "StorageBuckets", name_prefix=settings.name_prefix)
        self.jobs = JobAutomation(
            self,
            "Jobs",
            settings=settings,
            buckets=buckets,
            ratings_bucket=buckets.ratings,
            alerts_topic=storage.alerts.topic,
            alerts_key=storage.alerts.key,
            spark=compute.spark,
            workstation_instance_id=compute.workstation.instance.instance_id,
        )
