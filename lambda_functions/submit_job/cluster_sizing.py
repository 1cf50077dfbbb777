"""The shape of the transient cluster for one upload, from the upload's size: a pure function, no AWS.

Up to ``single_node_max_bytes`` the job runs on a single-node cluster (the primary node only, which then runs
YARN's containers itself); above it, one core node per ``bytes_per_core_node`` (rounded up), at most
``max_core_nodes``. The thresholds come from the stack (settings ``emr_single_node_max_mb``,
``emr_mb_per_core_node``, ``emr_core_instance_count``), measured with ``bench/sizing_bench.py``. A single-node
cluster has no task fleet either; a larger one keeps the Spot task fleet the settings ask for.

Also imported by tools/audit/cost.py, so the cost report prices the shapes submit_job really chooses.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

from stacks.contract import CLUSTER_SHAPE_TAG_KEY, INPUT_BYTES_TAG_KEY, SizingPolicy, cluster_shape_label


@dataclass(frozen=True)
class ClusterShape:
    input_bytes: int
    core_nodes: int
    """0: a single-node cluster (primary only)."""

    @property
    def single_node(self) -> bool:
        return self.core_nodes == 0


def shape_for(input_bytes: int, policy: SizingPolicy) -> ClusterShape:
    """The cluster for an upload of ``input_bytes``: single node up to the threshold, then more core nodes."""
    if input_bytes < 0:
        raise ValueError(f"an object size cannot be negative: {input_bytes}")
    if input_bytes <= policy.single_node_max_bytes:
        return ClusterShape(input_bytes=input_bytes, core_nodes=0)
    wanted = math.ceil(input_bytes / policy.bytes_per_core_node)
    return ClusterShape(input_bytes=input_bytes, core_nodes=min(max(wanted, 1), policy.max_core_nodes))


def fleets_by_type(job_flow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {fleet["InstanceFleetType"]: fleet for fleet in job_flow["Instances"]["InstanceFleets"]}


def shaped_job_flow(job_flow: dict[str, Any], shape: ClusterShape) -> tuple[dict[str, Any], str]:
    """A copy of the RunJobFlow arguments with the fleets and the shape tags of ``shape``, and the shape's label.

    The template's primary fleet is kept; its core fleet gets ``shape.core_nodes`` on-demand nodes (dropped, with
    any task fleet, for a single node); the template's own shape tag is replaced by this one."""
    shaped = copy.deepcopy(job_flow)
    fleets = fleets_by_type(shaped)
    if "MASTER" not in fleets or "CORE" not in fleets:
        raise ValueError("JOB_FLOW_TEMPLATE needs a MASTER and a CORE instance fleet")
    primary_type = fleets["MASTER"]["InstanceTypeConfigs"][0]["InstanceType"]
    core_type = fleets["CORE"]["InstanceTypeConfigs"][0]["InstanceType"]
    if shape.single_node:
        kept = [fleets["MASTER"]]
        task: dict[str, Any] | None = None
    else:
        # Core nodes hold HDFS and the job's executors: always on demand, as the stack declares them.
        fleets["CORE"]["TargetOnDemandCapacity"] = shape.core_nodes
        fleets["CORE"].pop("TargetSpotCapacity", None)
        task = fleets.get("TASK")
        kept = [fleets[kind] for kind in ("MASTER", "CORE", "TASK") if kind in fleets]
    shaped["Instances"]["InstanceFleets"] = kept
    label = cluster_shape_label(
        primary_type,
        core_type,
        shape.core_nodes,
        tuple(config["InstanceType"] for config in task["InstanceTypeConfigs"]) if task else (),
        int(task.get("TargetSpotCapacity", 0)) if task else 0,
    )
    tags = [tag for tag in shaped.get("Tags", []) if tag["Key"] not in (CLUSTER_SHAPE_TAG_KEY, INPUT_BYTES_TAG_KEY)]
    shaped["Tags"] = [
        *tags,
        {"Key": CLUSTER_SHAPE_TAG_KEY, "Value": label},
        {"Key": INPUT_BYTES_TAG_KEY, "Value": str(shape.input_bytes)},
    ]
    return shaped, label
