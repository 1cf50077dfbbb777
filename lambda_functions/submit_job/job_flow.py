"""The RunJobFlow arguments of one upload's transient cluster: the stack's template, given the upload's shape.

The shape comes from ``lab_contract.sizing.shape_for`` (the cost report prices the same shapes). A single-node
cluster has no task fleet either; a larger one keeps the Spot task fleet the settings ask for.
"""

from __future__ import annotations

import copy
from typing import Any

from lab_contract.names import CLUSTER_SHAPE_TAG_KEY, INPUT_BYTES_TAG_KEY
from lab_contract.sizing import ClusterShape, cluster_shape_label


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
