"""The architecture diagram of the real app: edges the way data and events flow, across stacks, in both modes."""

from __future__ import annotations

import re

import pytest

from lab_contract.layout import RATINGS_PREFIX, RATINGS_SUFFIXES
from tools.audit.assembly import load_assembly
from tools.audit.diagram import TRANSIENT_CLUSTER, mermaid

RATINGS = "Storage_Buckets_Ratings"
RESULTS = "Storage_Buckets_Results"
SUBMIT, OUTCOMES, GUARD = "Automation_Jobs_SubmitJob", "Automation_Jobs_EmrEvents", "Automation_Jobs_SpendGuard"
EMR_RULE, SCHEDULE = "Automation_Jobs_EmrStateChanges", "Automation_Jobs_SpendGuardSchedule"
EDGE = re.compile(r'^  (?P<source>\w+) (?P<arrow>==>|-->|-\.->|<-->)(\|"(?P<label>[^"]*)"\|)? (?P<target>\w+)$')


def edges(diagram: str) -> dict[tuple[str, str], tuple[str, str]]:
    """(source, target) -> (arrow, label), from the diagram's edge lines; every other line is a node or a box."""
    found = {}
    for line in diagram.splitlines()[1:]:
        match = EDGE.match(line)
        if match:
            found[(match["source"], match["target"])] = (match["arrow"], match["label"] or "")
        else:
            assert re.match(r"^\s+(subgraph \w+\[\"[^\"]+\"\]|end|\w+[\[({/].*[\])}/]|style \w+ .*)$", line), line
    return found


def declared(diagram: str) -> set[str]:
    return set(re.findall(r"^\s+(\w+)[\[({]", diagram, re.M)) | set(re.findall(r"^\s+subgraph (\w+)", diagram, re.M))


@pytest.fixture(scope="module")
def transient(lab) -> str:
    return mermaid(load_assembly(lab.outdir))


def test_the_upload_trigger_crosses_stacks_from_the_ratings_bucket_to_the_submit_function(transient: str) -> None:
    arrow, label = edges(transient)[(RATINGS, SUBMIT)]
    assert arrow == "==>"
    assert label.startswith(f"ObjectCreated {RATINGS_PREFIX} ")
    assert set(label.split()[2:]) == {f"*{suffix}" for suffix in RATINGS_SUFFIXES}


def test_the_pipeline_reads_left_to_right_as_data_and_events_flow(transient: str) -> None:
    drawn = edges(transient)
    assert drawn[(SUBMIT, TRANSIENT_CLUSTER)] == ("-.->", "launches")
    assert drawn[(RATINGS, TRANSIENT_CLUSTER)] == ("-->", f"{RATINGS_PREFIX}*")  # the cluster reads the upload
    assert drawn[(TRANSIENT_CLUSTER, RESULTS)][0] in ("-->", "<-->")  # and writes its run
    assert drawn[(TRANSIENT_CLUSTER, EMR_RULE)][0] == "==>"  # its state changes are events
    assert drawn[(EMR_RULE, OUTCOMES)] == ("==>", "invokes")
    assert drawn[(OUTCOMES, RESULTS)] == ("-->", "outcomes/*")
    assert drawn[(OUTCOMES, "Storage_Alerts_Topic")] == ("-->", "publishes")
    assert drawn[(SCHEDULE, GUARD)][0] == "==>" and drawn[(SCHEDULE, GUARD)][1].startswith("rate(")
    assert drawn[(GUARD, TRANSIENT_CLUSTER)] == ("-.->", "terminates")
    assert drawn[(GUARD, "Compute_Workstation_Instance")] == ("-.->", "stops")
    # Nothing points from a reader back to what it only reads.
    assert (SUBMIT, RATINGS) not in drawn and (TRANSIENT_CLUSTER, RATINGS) not in drawn


def test_every_edge_joins_declared_nodes_and_the_transient_cluster_is_dashed(transient: str) -> None:
    names = declared(transient)
    for source, target in edges(transient):
        assert {source, target} <= names, (source, target)
    assert f"style {TRANSIENT_CLUSTER} stroke-dasharray: 5 5" in transient
    vpc = transient.split('subgraph Compute_Network_Vpc["Network/Vpc: VPC"]')[1].split("    end", maxsplit=1)[0]
    assert TRANSIENT_CLUSTER in vpc and "Compute_Workstation_Instance" in vpc


def test_standing_mode_draws_the_declared_cluster_receiving_steps(synth) -> None:
    standing = mermaid(load_assembly(synth(cluster_mode="standing").outdir))
    drawn = edges(standing)
    assert TRANSIENT_CLUSTER not in standing
    assert drawn[(SUBMIT, "Compute_Spark_Cluster")] == ("-.->", "adds steps")
    assert drawn[("Compute_Spark_Cluster", EMR_RULE)][0] == "==>"
    assert drawn[(RATINGS, "Compute_Spark_Cluster")] == ("-->", f"{RATINGS_PREFIX}*")
    assert mermaid(load_assembly(synth(cluster_mode="standing").outdir)) == standing  # the same text every time
