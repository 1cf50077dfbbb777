"""The long-lived foundation: data buckets, the alerts topic and the monthly budget."""

from __future__ import annotations

from typing import Any

from constructs import Construct

from stacks.cost_guard import AlertsTopic, MonthlyBudget
from stacks.lab_stack import LabStack
from stacks.settings import Settings
from stacks.shared_buckets import export_bucket_arns
from stacks.storage import DataBuckets


class StorageStack(LabStack):
    """Deploy first, destroy last: compute and automation stacks reference its buckets and topic."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.buckets = DataBuckets(self, "Buckets", removes_data_on_destroy=settings.removes_data_on_destroy)
        export_bucket_arns(self, self.buckets, name_prefix=settings.name_prefix)
        self.alerts = AlertsTopic(
            self,
            "Alerts",
            email=settings.notification_email,
            removes_key_on_destroy=settings.removes_data_on_destroy,
        )
        self.budget = MonthlyBudget(
            self,
            "Budget",
            monthly_limit_usd=settings.budget_monthly_usd,
            alerts_topic=self.alerts.topic,
            email=settings.budget_email,
        )
