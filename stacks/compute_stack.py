"""Compute: the private network, the EMR Spark cluster definition and the EC2 workstation."""

from __future__ import annotations

from typing import Any

from constructs import Construct

from stacks.lab_stack import LabStack
from stacks.network import LabNetwork
from stacks.settings import Settings
from stacks.shared_buckets import SharedBuckets
from stacks.spark_cluster import SparkJobCluster
from stacks.workstation import Workstation


class ComputeStack(LabStack):
    """Everything that costs money by the hour. Destroy it when the lab is idle; data stays in storage."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        buckets = SharedBuckets(self, "StorageBuckets", name_prefix=settings.name_prefix)
        self.network = LabNetwork(self, "Network", logs_bucket=buckets.logs)
        self.spark = SparkJobCluster(self, "Spark", settings=settings, network=self.network, buckets=buckets)
        self.workstation = Workstation(
            self,
            "Workstation",
            settings=settings,
            network=self.network,
            buckets=buckets,
            job_script=self.spark.job_script,
        )
