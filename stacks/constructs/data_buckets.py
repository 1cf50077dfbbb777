"""Storage: the project's four S3 buckets."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from lab_contract.layout import ACCESS_LOGS_PREFIX, FLOW_LOGS_PREFIX, RESULTS_RUNS_PREFIX, RUN_ATTEMPTS_DIR
from stacks.compliance.acknowledgements import acknowledge, skip_checkov


@dataclass(frozen=True, kw_only=True)
class DataBucketsProps:
    removes_data_on_destroy: bool
    """True (dev): ``cdk destroy`` empties and deletes the buckets. False (prod): buckets and data are retained."""
    log_expiry_days: int = 90
    """Objects in the logs bucket (S3 access logs, VPC flow logs, EMR logs) expire after this many days."""
    noncurrent_version_days: int = 30
    """Replaced or deleted versions in the versioned buckets (ratings, results) expire after this many days."""
    failed_attempt_days: int = 7
    """What a job attempt that never finished (its cluster killed) left under ``runs/_attempts/`` expires after
    this many days; a finished attempt is promoted to ``runs/<run id>/`` and removes its own folder."""


class DataBuckets(Construct):
    """Ratings input, artifacts, results and logs buckets.

    Guarantees, for every bucket: all public access blocked; requests without TLS denied by bucket policy;
    SSE-S3 encryption at rest; incomplete multipart uploads aborted after 7 days; generated names. Input and
    results are versioned (old versions expire after ``noncurrent_version_days``). Input, artifacts and
    results write server access logs to the logs bucket, whose objects expire after ``log_expiry_days``.
    With ``removes_data_on_destroy`` (dev) ``cdk destroy`` empties and deletes the buckets; otherwise (prod)
    they and their data are retained.
    """

    def __init__(self, scope: Construct, construct_id: str, *, props: DataBucketsProps) -> None:
        super().__init__(scope, construct_id)
        self._removes_data = props.removes_data_on_destroy
        self._noncurrent_version_days = props.noncurrent_version_days

        # SSE-S3, not SSE-KMS: S3 server access logging and VPC flow log delivery cannot write to SSE-KMS buckets.
        self.logs = self._bucket(
            "Logs",
            versioned=False,
            access_logs=None,
            expiry=Duration.days(props.log_expiry_days),
        )
        acknowledge(
            self.logs,
            "AwsSolutions-S1",
            "This is the access-log target bucket; logging it into itself would create a feedback loop.",
        )
        logs_resource = self.logs.node.default_child
        skip_checkov(
            logs_resource, "CKV_AWS_18", "This is the access-log target bucket; logging it into itself would loop."
        )
        skip_checkov(
            logs_resource, "CKV_AWS_21", "Append-only logs that expire by lifecycle; versions would keep expired logs."
        )
        self._allow_flow_log_delivery()
        self.ratings = self._bucket("Ratings", versioned=True, access_logs="ratings")
        self.artifacts = self._bucket("Artifacts", versioned=False, access_logs="artifacts")
        skip_checkov(
            self.artifacts.node.default_child,
            "CKV_AWS_21",
            "Holds regenerable Spark checkpoints and the wheelhouse; versions would retain checkpoint churn at cost.",
        )
        self.results = self._bucket(
            "Results",
            versioned=True,
            access_logs="results",
            extra_rules=[
                s3.LifecycleRule(
                    id="expire-unfinished-run-attempts",
                    prefix=f"{RESULTS_RUNS_PREFIX}{RUN_ATTEMPTS_DIR}/",
                    expiration=Duration.days(props.failed_attempt_days),
                )
            ],
        )

    def by_name(self) -> dict[str, s3.IBucket]:
        """The buckets by name (``ratings``, ``artifacts``, ``results``, ``logs``): the names of their exports."""
        return {"ratings": self.ratings, "artifacts": self.artifacts, "results": self.results, "logs": self.logs}

    def _allow_flow_log_delivery(self) -> None:
        """Declares the grant VPC flow log delivery needs, so AWS does not append it to the policy (drift)."""
        delivery = iam.ServicePrincipal("delivery.logs.amazonaws.com")
        same_account = {"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}
        self.logs.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AWSLogDeliveryWrite",
                principals=[delivery],
                actions=["s3:PutObject"],
                resources=[self.logs.arn_for_objects(f"{FLOW_LOGS_PREFIX}AWSLogs/{Aws.ACCOUNT_ID}/*")],
                conditions=same_account,
            )
        )
        self.logs.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AWSLogDeliveryCheck",
                principals=[delivery],
                actions=["s3:GetBucketAcl", "s3:ListBucket"],
                resources=[self.logs.bucket_arn],
                conditions=same_account,
            )
        )

    def _bucket(
        self,
        construct_id: str,
        *,
        versioned: bool,
        access_logs: str | None,
        expiry: Duration | None = None,
        extra_rules: list[s3.LifecycleRule] | None = None,
    ) -> s3.Bucket:
        rules = [
            s3.LifecycleRule(id="abort-incomplete-uploads", abort_incomplete_multipart_upload_after=Duration.days(7))
        ]
        if versioned:
            rules.append(
                s3.LifecycleRule(
                    id="expire-old-versions",
                    noncurrent_version_expiration=Duration.days(self._noncurrent_version_days),
                )
            )
        if expiry is not None:
            rules.append(s3.LifecycleRule(id="expire-logs", expiration=expiry))
        rules += extra_rules or []
        return s3.Bucket(
            self,
            construct_id,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            # ACLs disabled: log delivery is granted by bucket policy instead.
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=versioned,
            lifecycle_rules=rules,
            server_access_logs_bucket=self.logs if access_logs else None,
            server_access_logs_prefix=f"{ACCESS_LOGS_PREFIX}{access_logs}/" if access_logs else None,
            removal_policy=RemovalPolicy.DESTROY if self._removes_data else RemovalPolicy.RETAIN,
            auto_delete_objects=self._removes_data,
        )
