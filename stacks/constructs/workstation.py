"""The EC2 workstation: one machine that runs the same ALS job with Spark in local mode."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.compliance.acknowledgements import acknowledge
from stacks.constructs.network import LabNetwork
from stacks.constructs.shared_buckets import SharedBuckets
from stacks.constructs.spark_cluster import SparkJobCluster
from stacks.contract import RATINGS_PREFIX, RESULTS_RUNS_PREFIX

WHEELHOUSE_PREFIX = "wheelhouse/"
JOB_PATH = "/opt/ml-lab/als_job.py"
RUNNER_PATH = "/usr/local/bin/ml-lab-als"


@dataclass(frozen=True, kw_only=True)
class WorkstationProps:
    pyspark_version: str
    """The pyspark release to install: the Spark version of the cluster's EMR release, so both run the same Spark."""
    instance_type: str = "t3.large"
    root_volume_gb: int = 30
    """Encrypted gp3 root volume."""
    key_pair: str | None = None
    """An EC2 key pair for SSH; needs ``ssh_cidr`` too. None: Session Manager only."""
    ssh_cidr: str | None = None
    """The one range SSH is admitted from (the settings refuse anything wider than a /16)."""


class Workstation(Construct):
    """An Amazon Linux 2023 instance in a private subnet, reached with Session Manager.

    Guarantees: IMDSv2 required; encrypted gp3 root volume; no public IP; no key pair and no inbound rule unless
    both ``workstation_key_pair`` and a narrow ``workstation_ssh_cidr`` are set (0.0.0.0/0 is refused by the
    settings); read access to the ratings prefix and the job script, write access to the results prefix only.
    User data installs Java 17 (from the AL2023 repositories, reached through the S3 gateway endpoint) and the
    pyspark version that matches the EMR release, from the artifacts bucket's wheelhouse (the VPC has no
    internet route; `make upload-wheelhouse` fills it). The spend guard stops it outside working hours.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: WorkstationProps,
        network: LabNetwork,
        buckets: SharedBuckets,
        spark: SparkJobCluster,
    ) -> None:
        super().__init__(scope, construct_id)
        region = Stack.of(self).region
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=network.vpc,
            description="Lab workstation: no inbound traffic unless SSH is configured",
            allow_all_outbound=True,
        )
        key_pair = None
        if props.key_pair and props.ssh_cidr:
            key_pair = ec2.KeyPair.from_key_pair_name(self, "KeyPair", props.key_pair)
            self.security_group.add_ingress_rule(
                ec2.Peer.ipv4(props.ssh_cidr), ec2.Port.tcp(22), "SSH from the configured range"
            )

        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("AmazonSSMManagedInstanceCore")],
            description="Lab workstation: Session Manager, read ratings and job script, write results",
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]",
            "AWS's minimal Session Manager policy; it replaces SSH and a hand-written copy would drift.",
        )
        buckets.grant_prefix(self.role, "ratings", RATINGS_PREFIX, ["s3:GetObject"], list_prefix=True)
        buckets.grant_prefix(self.role, "artifacts", WHEELHOUSE_PREFIX, ["s3:GetObject"], list_prefix=True)
        buckets.grant_prefix(self.role, "results", RESULTS_RUNS_PREFIX, ["s3:PutObject"], list_prefix=True)
        spark.grant_read_job_script(self.role)

        pyspark = props.pyspark_version
        job_uri = spark.job_script_uri
        user_data = ec2.UserData.for_linux()
        user_data.add_commands(
            "set -euo pipefail",
            "dnf install -y java-17-amazon-corretto-headless python3-pip",
            "mkdir -p /opt/ml-lab/wheelhouse",
            f"aws s3 cp --region {region} {job_uri} {JOB_PATH}",
            # No internet route: pyspark comes from the wheelhouse that `make upload-wheelhouse` fills.
            f"aws s3 cp --region {region} --recursive s3://{buckets.artifacts.bucket_name}/{WHEELHOUSE_PREFIX} "
            "/opt/ml-lab/wheelhouse/ || true",
            f"pip3 install --no-index --find-links /opt/ml-lab/wheelhouse 'pyspark=={pyspark}' numpy "
            "|| echo 'pyspark not installed: run make upload-wheelhouse, then re-run this user data' >&2",
            f"cat > {RUNNER_PATH} <<'EOF'",
            "#!/bin/bash",
            "# Usage: ml-lab-als RATINGS_KEY [job options]. Runs the ALS job on this machine, results to S3.",
            "set -euo pipefail",
            'key=$1; shift; work=$(mktemp -d); name=$(basename "$key")',
            f'aws s3 cp --region {region} "s3://{buckets.ratings.bucket_name}/$key" "$work/$name"',
            f'spark-submit --master "local[*]" {JOB_PATH} --ratings "$work/$name" --output "$work/runs" "$@"',
            f'aws s3 sync --region {region} "$work/runs" s3://{buckets.results.bucket_name}/{RESULTS_RUNS_PREFIX}',
            "EOF",
            f"chmod 755 {RUNNER_PATH}",
        )
        self.instance = ec2.Instance(
            self,
            "Instance",
            vpc=network.vpc,
            vpc_subnets=ec2.SubnetSelection(subnets=[network.private_subnets.subnets[0]]),
            instance_type=ec2.InstanceType(props.instance_type),
            machine_image=ec2.MachineImage.latest_amazon_linux2023(),
            security_group=self.security_group,
            role=self.role,
            key_pair=key_pair,
            require_imdsv2=True,
            associate_public_ip_address=False,
            user_data=user_data,
            block_devices=[
                ec2.BlockDevice(
                    device_name="/dev/xvda",
                    volume=ec2.BlockDeviceVolume.ebs(
                        props.root_volume_gb, encrypted=True, volume_type=ec2.EbsDeviceVolumeType.GP3
                    ),
                )
            ],
        )
        acknowledge(
            self.instance,
            "AwsSolutions-EC28",
            "Per-minute detailed monitoring costs extra and nothing alarms on it; 5-minute metrics suffice here.",
        )
        acknowledge(
            self.instance,
            "AwsSolutions-EC29",
            "A disposable workstation that cdk destroy must remove; no data lives on it, results go to S3.",
        )

        self.ssm_command = f"aws ssm start-session --region {region} --target {self.instance.instance_id}"
        CfnOutput(self, "InstanceId", value=self.instance.instance_id, description="The workstation instance")
        CfnOutput(self, "SessionCommand", value=self.ssm_command, description="Connect with Session Manager")
        CfnOutput(
            self,
            "SparkSubmitCommand",
            value=(
                f"{RUNNER_PATH} {RATINGS_PREFIX}u.data  # = aws s3 cp + spark-submit --master 'local[*]' "
                f"{JOB_PATH} --ratings <file> --output <dir> + aws s3 sync to the results bucket"
            ),
            description="Run the ALS job on the workstation (inside a Session Manager shell)",
        )

    def grant_stop(self, role: iam.IRole) -> None:
        """Reading instance states (no resource-level permissions exist) and stopping this instance only."""
        role.add_to_principal_policy(iam.PolicyStatement(actions=["ec2:DescribeInstances"], resources=["*"]))
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ec2:StopInstances"],
                resources=[
                    Stack.of(role).format_arn(
                        service="ec2", resource="instance", resource_name=self.instance.instance_id
                    )
                ],
            )
        )
