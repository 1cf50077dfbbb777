"""The long-lived foundation: data buckets, the alerts topic and the monthly budget."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from constructs import Construct

from stacks.constructs.alerts_and_budget import AlertsTopic, AlertsTopicProps, MonthlyBudget, MonthlyBudgetProps
from stacks.constructs.data_buckets import DataBuckets, DataBucketsProps
from stacks.constructs.shared_buckets import export_bucket_arns
from stacks.lab_stack import LabStack
from stacks.outputs import storage_outputs


@dataclass(frozen=True, kw_only=True)
class StorageStackProps:
    name_prefix: str
    """``<project>-<stage>``: each bucket ARN is exported as ``<name_prefix>-<bucket>-bucket-arn``."""
    buckets: DataBucketsProps
    alerts: AlertsTopicProps
    budget: MonthlyBudgetProps


class StorageStack(LabStack):
    """Deploy first, destroy last: compute and automation stacks reference its buckets and topic."""

    def __init__(self, scope: Construct, construct_id: str, *, props: StorageStackProps, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.buckets = DataBuckets(self, "Buckets", props=props.buckets)
        export_bucket_arns(self, self.buckets, name_prefix=props.name_prefix)
        storage_outputs(self, ratings=self.buckets.ratings, results=self.buckets.results)
        self.alerts = AlertsTopic(self, "Alerts", props=props.alerts)
        self.budget = MonthlyBudget(self, "Budget", props=props.budget, alerts_topic=self.alerts.topic)
