"""The architecture diagram of the real app: the person's path and the data path first, edges the way data and events
flow, across stacks, plumbing drawn lighter; the network diagram of both modes; README's copies kept current."""

from __future__ import annotations

import re

import pytest

from lab_contract.layout import RATINGS_PREFIX, RATINGS_SUFFIXES
from tools.audit import diagram
from tools.audit.assembly import load_assembly
from tools.audit.diagram import TRANSIENT_CLUSTER, USER, mermaid
from tools.audit.network_diagram import network_mermaid

RATINGS = "Storage_Buckets_Ratings"
RESULTS = "Storage_Buckets_Results"
SUBMIT, OUTCOMES, GUARD = "Automation_Jobs_SubmitJob", "Automation_Jobs_EmrEvents", "Automation_Jobs_SpendGuard"
EMR_RULE, SCHEDULE = "Automation_Jobs_EmrStateChanges", "Automation_Jobs_SpendGuardSchedule"
EDGE = re.compile(r'^  (?P<source>\w+) (?P<arrow>==>|-->|-\.->|<-->)(\|"(?P<label>[^"]*)"\|)? (?P<target>\w+)$')


STYLE_LINE = re.compile(
    r"^\s+(subgraph \w+\[\"[^\"]+\"\]|end|\w+[\[({/].*[\])}/]|(style|classDef|class|linkStyle) \S+ .*)$"
)


def edges(source: str) -> dict[tuple[str, str], tuple[str, str]]:
    """(source, target) -> (arrow, label), from the diagram's edge lines; every other line is a node, a box or a
    style."""
    return {key: value[1:] for key, value in ordered_edges(source).items()}


def ordered_edges(source: str) -> dict[tuple[str, str], tuple[int, str, str]]:
    """(source, target) -> (its index, as linkStyle counts links; arrow; label)."""
    found = {}
    for line in source.splitlines()[1:]:
        match = EDGE.match(line)
        if match:
            found[(match["source"], match["target"])] = (len(found), match["arrow"], match["label"] or "")
        else:
            assert STYLE_LINE.match(line), line
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


def test_the_person_uploads_gets_results_and_opens_a_shell_where_the_outputs_say(transient: str) -> None:
    drawn = edges(transient)
    assert drawn[(USER, RATINGS)] == ("-->", "uploads ratings (make upload-sample)")
    assert drawn[(RESULTS, USER)] == ("-->", "results (make results)")
    assert drawn[(USER, "Compute_Workstation_Instance")] == ("-.->", "Session Manager shell (make connect)")
    assert f'  {USER}(("you"))' in transient.splitlines()[:2]


def test_the_person_and_the_data_path_come_first_and_plumbing_last_drawn_lighter(transient: str) -> None:
    drawn = ordered_edges(transient)
    plumbing_nodes = {"Storage_Buckets_Logs", "Automation_Jobs_DeadLetters"}
    plumbing = sorted(index for key, (index, _, _) in drawn.items() if set(key) & plumbing_nodes)
    users = sorted(index for key, (index, _, _) in drawn.items() if USER in key)
    assert users == list(range(len(users))) and plumbing == list(range(len(drawn) - len(plumbing), len(drawn)))
    # Access and flow logs, failed invocations and undelivered events are all plumbing; nothing else is.
    labels = {drawn[key][2] for key in drawn if set(key) & plumbing_nodes}
    assert {"access logs", "flow logs", "failed invocations", "undelivered events"} <= labels
    assert f"  linkStyle {','.join(map(str, plumbing))} {diagram.PLUMBING_LINK_STYLE}" in transient
    assert f"  class {','.join(sorted(plumbing_nodes))} plumbing" in transient
    # The data path is listed as it flows: the upload's trigger before the launch, the launch before the outcome.
    order = {key: index for key, (index, _, _) in drawn.items()}
    assert order[(RATINGS, SUBMIT)] < order[(SUBMIT, TRANSIENT_CLUSTER)] < order[(OUTCOMES, RESULTS)]


@pytest.fixture(scope="module")
def network(lab, synth) -> str:
    return network_mermaid(
        {"public": load_assembly(lab.outdir), "isolated": load_assembly(synth(network_mode="isolated").outdir)}
    )


def test_the_network_diagram_draws_each_modes_way_out(network: str, synth) -> None:
    public, isolated = network.split('subgraph isolated["network_mode isolated"]')
    # public: an internet gateway to the internet, from every node in the VPC; no interface endpoint.
    for node in ("public_Compute_Workstation_Instance", "public_emr_transient_cluster"):
        assert f'{node} -->|"AWS APIs and the internet, from public IPv4 addresses"| public_internet_gateway' in public
        assert f'{node} -->|"S3"| public_s3_gateway' in public
    assert "public_internet_gateway --> public_internet((" in public and "endpoints" not in public
    # isolated: no internet at all, only the interface endpoints the template declares, and the S3 gateway.
    assert "internet" not in isolated
    template = synth(network_mode="isolated").template("compute")
    services = sorted(
        resource["Properties"]["ServiceName"].rsplit(".", 1)[-1]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::EC2::VPCEndpoint" and resource["Properties"].get("VpcEndpointType") == "Interface"
    )
    (listed,) = re.findall(r'isolated_endpoints\{\{"interface endpoints: ([^"]+)"\}\}', isolated)
    assert sorted(listed.split(", ")) == services and services
    assert 'isolated_Compute_Workstation_Instance -->|"S3"| isolated_s3_gateway' in isolated
    assert "class isolated_endpoints endpoint" in isolated


def test_make_diagram_says_whether_readme_changed(tmp_path, monkeypatch, capsys) -> None:
    readme = tmp_path / "README.md"
    blocks = [(diagram.README_BEGIN, diagram.README_END), (diagram.NETWORK_BEGIN, diagram.NETWORK_END)]
    readme.write_text("".join(f"intro\n{begin}\n```mermaid\nold\n```\n{end}\n" for begin, end in blocks))
    monkeypatch.setattr(diagram, "readme_diagrams", lambda: ("flowchart LR\n  a --> b", "flowchart LR\n  c --> d"))

    assert diagram.main(["--readme", str(readme)]) == 0
    assert capsys.readouterr().out == f"diagram: {readme} updated from the templates\n"
    written = readme.read_text()
    assert diagram.readme_diagram(written) == "flowchart LR\n  a --> b"
    assert diagram.readme_diagram(written, diagram.NETWORK_BEGIN, diagram.NETWORK_END) == "flowchart LR\n  c --> d"

    assert diagram.main(["--readme", str(readme)]) == 0
    assert capsys.readouterr().out == f"diagram: {readme} unchanged\n"
    assert readme.read_text() == written
