"""The EC2 workstation: one machine that runs the same ALS job with Spark in local mode."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from stacks.audit_acknowledgements import acknowledge
from stacks.emr_release import spark_version
from stacks.network import LabNetwork
from stacks.settings import Settings
from stacks.shared_buckets import SharedBuckets
from stacks.spark_cluster import grant_read_of_exact_object
from stacks.storage import RATINGS_PREFIX, RESULTS_RUNS_PREFIX

WHEELHOUSE_PREFIX = "wheelhouse/"
JOB_PATH = "/opt/ml-lab/als_job.py"
RUNNER_PATH = "/usr/local/bin/ml-lab-als"


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
        settings: Settings,
        network: LabNetwork,
        buckets: SharedBuckets,
        job_script: s3_assets.Asset,
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
        if settings.workstation_key_pair and settings.workstation_ssh_cidr:
            key_pair = ec2.KeyPair.from_key_pair_name(self, "KeyPair", settings.workstation_key_pair)
            self.security_group.add_ingress_rule(
                ec2.Peer.ipv4(settings.workstation_ssh_cidr), ec2.Port.tcp(22), "SSH from the configured range"
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
        grant_read_of_exact_object(self.role, job_script)

        pyspark = spark_version(settings.emr_release)
        job_uri = f"s3://{job_script.s3_bucket_name}/{job_script.s3_object_key}"
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
            instance_type=ec2.InstanceType(settings.workstation_instance_type),
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
                    volume=ec2.BlockDeviceVolume.ebs(30, encrypted=True, volume_type=ec2.EbsDeviceVolumeType.GP3),
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
