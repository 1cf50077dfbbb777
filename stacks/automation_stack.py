"""Automation: the Lambda functions and triggers that run the job and bound spend."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from constructs import Construct

from stacks.compute_stack import ComputeStack
from stacks.constructs.job_automation import JobAutomation, JobAutomationProps
from stacks.constructs.shared_buckets import SharedBuckets, SharedBucketsProps
from stacks.handoff import Handoff
from stacks.lab_stack import LabStack
from stacks.storage_stack import StorageStack


@dataclass(frozen=True, kw_only=True)
class AutomationStackProps:
    shared_buckets: SharedBucketsProps
    jobs: JobAutomationProps


class AutomationStack(LabStack):
    """Event-driven functions: no servers, billed per invocation. Deploy after storage and compute."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: AutomationStackProps,
        storage: StorageStack,
        compute: ComputeStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        buckets = SharedBuckets(self, "StorageBuckets", props=props.shared_buckets)
        # What a routine change in the compute stack replaces reaches this stack through SSM parameters, never an
        # export (stacks/handoff.py); the roles' ARNs, which no routine change replaces, stay references.
        self.handoff = Handoff(compute, self, name_prefix=props.jobs.name_prefix)
        self.jobs = JobAutomation(
            self,
            "Jobs",
            props=props.jobs,
            buckets=buckets,
            alerts=storage.alerts,
            spark=compute.spark,
            workstation=compute.workstation,
            handoff=self.handoff,
        )
