"""Compute: the private network, the EMR Spark cluster definition and the EC2 workstation."""

from __future__ import annotations

from typing import Any

from constructs import Construct

from stacks.constructs.network import LabNetwork, LabNetworkProps
from stacks.constructs.shared_buckets import SharedBuckets, SharedBucketsProps
from stacks.constructs.spark_cluster import SparkJobCluster, SparkJobClusterProps
from stacks.constructs.workstation import Workstation, WorkstationProps
from stacks.lab_stack import LabStack


class ComputeStack(LabStack):
    """Everything that costs money by the hour. Destroy it when the lab is idle; data stays in storage."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        shared_buckets: SharedBucketsProps,
        network: LabNetworkProps,
        spark: SparkJobClusterProps,
        workstation: WorkstationProps,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        buckets = SharedBuckets(self, "StorageBuckets", props=shared_buckets)
        self.network = LabNetwork(self, "Network", props=network, logs_bucket=buckets.logs)
        self.spark = SparkJobCluster(self, "Spark", props=spark, network=self.network, buckets=buckets)
        self.workstation = Workstation(
            self, "Workstation", props=workstation, network=self.network, buckets=buckets, spark=self.spark
        )
