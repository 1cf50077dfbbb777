"""Compute: the network, the EMR Spark cluster definition and the EC2 workstation, and what a user needs to use them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from constructs import Construct

from stacks.constructs.network import LabNetwork, LabNetworkProps
from stacks.constructs.shared_buckets import SharedBuckets, SharedBucketsProps
from stacks.constructs.spark_cluster import SparkJobCluster, SparkJobClusterProps
from stacks.constructs.workstation import (
    JOB_PACKAGE_NAME,
    JOB_SCRIPT_NAME,
    RUNNER_PATH,
    USER_FOLDER,
    Workstation,
    WorkstationProps,
)
from stacks.lab_stack import LabStack
from stacks.outputs import SAMPLE_KEY, LabOutputs, add_outputs


@dataclass(frozen=True, kw_only=True)
class ComputeStackProps:
    shared_buckets: SharedBucketsProps
    network: LabNetworkProps
    spark: SparkJobClusterProps
    workstation: WorkstationProps


class ComputeStack(LabStack):
    """Everything that costs money by the hour, and nothing that does while idle in the public network mode.

    Its outputs say how to reach the workstation and start it again after it stopped itself (the storage stack's
    say where data lands); see ``stacks/outputs.py``.
    """

    def __init__(self, scope: Construct, construct_id: str, *, props: ComputeStackProps, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        buckets = SharedBuckets(self, "StorageBuckets", props=props.shared_buckets)
        self.network = LabNetwork(self, "Network", props=props.network, logs_bucket=buckets.logs)
        self.spark = SparkJobCluster(self, "Spark", props=props.spark, network=self.network, buckets=buckets)
        self.workstation = Workstation(
            self, "Workstation", props=props.workstation, network=self.network, buckets=buckets, spark=self.spark
        )
        self._outputs()

    def _outputs(self) -> None:
        workstation = self.workstation
        add_outputs(
            self,
            [
                (LabOutputs.INSTANCE_ID, workstation.instance.instance_id, "The workstation (make connect)"),
                (LabOutputs.SESSION, workstation.session_command, "A shell on the workstation (Session Manager)"),
                (LabOutputs.START, workstation.start_command, "Start the workstation after it stopped itself"),
                (
                    LabOutputs.RUN_JOB,
                    f"{RUNNER_PATH} {SAMPLE_KEY}  # on the workstation: aws s3 cp + spark-submit --master "
                    f"'local[*]' --py-files {JOB_PACKAGE_NAME} {JOB_SCRIPT_NAME} --ratings <file> --output <dir> in "
                    f"~/{USER_FOLDER}/run.<id>/ + aws s3 "
                    "sync to the results bucket",
                    "Run the ALS job on the workstation (inside a Session Manager shell)",
                ),
            ],
        )
