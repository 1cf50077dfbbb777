"""How run ids, cluster names and step names are made and recognised, and the tag keys that mark the project's
resources."""

from __future__ import annotations

import re

# Any run id the job accepts (--run-id); the ids submit_job generates are a subset (GENERATED_RUN_ID).
RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
GENERATED_RUN_ID = re.compile(r"[0-9]{8}-[0-9a-f]{12}")  # [0-9], not \d: no other script's digits
STEP_NAME_INFIX = "-als-"
STANDING_CLUSTER_SUFFIX = "-standing"
# A later generation's suffix: 2 and up, written without leading zeros (the first generation has none).
STANDING_GENERATION = re.compile(r"[2-9]|[1-9][0-9]+")

PROJECT_TAG_KEY = "project"
STAGE_TAG_KEY = "stage"
# On every cluster: the shape it was given (sizing.cluster_shape_label) and, for a transient cluster, the size in
# bytes of the upload it was sized for. emr_events copies both into the outcome record.
CLUSTER_SHAPE_TAG_KEY = "cluster-shape"
INPUT_BYTES_TAG_KEY = "input-bytes"
# EMR's v2 managed service policy acts only on the subnets, security groups and clusters carrying this tag as "true"
# ("Service role for Amazon EMR (EMR role)"); the cluster passes it on to what EMR creates for it.
EMR_MANAGED_POLICY_TAG = "for-use-with-amazon-emr-managed-policies"


def generated_run_id(event_date: str, digest: str) -> str:
    """The run id submit_job gives an upload: its S3 event date (YYYYMMDD) and 12 hex of its identity's sha256."""
    run_id = f"{event_date}-{digest[:12]}"
    if not GENERATED_RUN_ID.fullmatch(run_id):
        raise ValueError(f"not a generated run id: {run_id!r}")
    return run_id


def transient_cluster_name(name_prefix: str, run_id: str) -> str:
    """A transient cluster is named for the one run it exists for."""
    return f"{name_prefix}-{run_id}"


def standing_cluster_name(name_prefix: str, generation: int = 1) -> str:
    """The standing cluster of ``generation`` (setting standing_cluster_generation): the first is
    ``<prefix>-standing``, each later one ``<prefix>-standing-<generation>``. A new name is what makes CloudFormation
    replace an ended cluster (Name is create-only)."""
    if generation < 1:
        raise ValueError(f"not a standing cluster generation: {generation!r}")
    base = f"{name_prefix}{STANDING_CLUSTER_SUFFIX}"
    return base if generation == 1 else f"{base}-{generation}"


def is_standing_cluster_name(name_prefix: str, name: object) -> bool:
    """Exactly the name of one of the prefix's standing cluster generations (``standing_cluster_name``)."""
    if not isinstance(name, str):
        return False
    base = f"{name_prefix}{STANDING_CLUSTER_SUFFIX}"
    if name == base:
        return True
    generation = name.removeprefix(f"{base}-") if name.startswith(f"{base}-") else ""
    return STANDING_GENERATION.fullmatch(generation) is not None


def step_name(name_prefix: str, run_id: str) -> str:
    return f"{name_prefix}{STEP_NAME_INFIX}{run_id}"


def _generated_run_id_after(head: str, name: object) -> str | None:
    if not isinstance(name, str) or not name.startswith(head):
        return None
    run_id = name[len(head) :]
    return run_id if GENERATED_RUN_ID.fullmatch(run_id) else None


def run_id_of_step(name_prefix: str, name: object) -> str | None:
    """The run id when ``name`` is exactly ``step_name(name_prefix, <generated run id>)``, else None.

    Exact, not a prefix match: ``ml-lab-dev-als-...`` is also how the steps of a project named ``ml-lab-dev-als``
    begin."""
    return _generated_run_id_after(f"{name_prefix}{STEP_NAME_INFIX}", name)


def run_id_of_transient_cluster(name_prefix: str, name: object) -> str | None:
    """The run id when ``name`` is exactly ``transient_cluster_name(name_prefix, <generated run id>)``, else None.

    Exact: stage ``prod`` of a project named ``ml-lab-dev`` names its clusters ``ml-lab-dev-prod-...``."""
    return _generated_run_id_after(f"{name_prefix}-", name)
