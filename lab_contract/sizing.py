"""How a transient cluster is sized by the upload it runs for: a pure function, no AWS.

Up to ``single_node_max_bytes`` the job runs on a single-node cluster (the primary node only, which then runs
YARN's containers itself); above it, one core node per ``bytes_per_core_node`` (rounded up), at most
``max_core_nodes``. The stack sets the policy from the settings ``emr_single_node_max_mb``, ``emr_mb_per_core_node``
and ``emr_core_instance_count`` (measured with ``bench/sizing_bench.py``) as submit_job's ``CLUSTER_SIZING``.
submit_job starts the shape ``shape_for`` gives; ``tools/audit/cost.py`` prices the same shapes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

MEGABYTE = 1_000_000


@dataclass(frozen=True)
class SizingPolicy:
    single_node_max_bytes: int
    bytes_per_core_node: int
    max_core_nodes: int

    @classmethod
    def from_mapping(cls, raw: Mapping[str, object]) -> SizingPolicy:
        """The policy from its fields (as ``as_mapping`` gives them); ValueError naming the field that is unusable."""
        values: dict[str, int] = {}
        for name, low in (("single_node_max_bytes", 0), ("bytes_per_core_node", 1), ("max_core_nodes", 1)):
            value = raw.get(name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"needs {name} as a whole number >= {low}, not {value!r}")
            values[name] = value
        return cls(**values)

    def as_mapping(self) -> dict[str, int]:
        return {
            "single_node_max_bytes": self.single_node_max_bytes,
            "bytes_per_core_node": self.bytes_per_core_node,
            "max_core_nodes": self.max_core_nodes,
        }


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


def cluster_shape_label(
    primary_type: str, core_type: str, core_nodes: int, task_types: tuple[str, ...] = (), task_spot_nodes: int = 0
) -> str:
    """'primary:1xm7g.xlarge core:2xm7g.xlarge' ('core:0' is a single-node cluster); a Spot task fleet adds
    'task-spot:2xm7g.xlarge/m6g.xlarge'. Only characters EMR allows in tag values (letters, digits, space, _.:/=+-@)."""
    label = f"primary:1x{primary_type} " + (f"core:{core_nodes}x{core_type}" if core_nodes else "core:0")
    if task_spot_nodes:
        label += f" task-spot:{task_spot_nodes}x{'/'.join(task_types)}"
    return label
