"""The two choices a deployment makes that both sides read: how the job's cluster lives, how the network reaches
AWS."""

from __future__ import annotations

from typing import Literal, get_args

# "transient": submit_job starts a cluster per upload, which ends with its step. "standing": one cluster, kept
# running, gets a step per upload.
ClusterMode = Literal["transient", "standing"]
CLUSTER_MODES: tuple[str, ...] = get_args(ClusterMode)
# "public": subnets routed to an internet gateway (free), no NAT gateway, no interface endpoints; instances have a
# public IPv4 address while they run and no security group admits anything from outside the VPC.
# "isolated": no route to the internet at all; AWS APIs through interface endpoints (billed per hour).
NETWORK_MODES: tuple[str, ...] = ("public", "isolated")
