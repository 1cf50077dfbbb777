"""How the compute and automation stacks reach the storage stack's buckets: named exports, prefix grants."""

from __future__ import annotations

from aws_cdk import CfnOutput, Fn, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.audit_acknowledgements import acknowledge
from stacks.storage import DataBuckets

BUCKET_NAMES = ("ratings", "artifacts", "results", "logs")


def arn_export_name(name_prefix: str, bucket: str) -> str:
    return f"{name_prefix}-{bucket}-bucket-arn"


def export_bucket_arns(stack: Stack, buckets: DataBuckets, *, name_prefix: str) -> None:
    """Exports each bucket ARN under a readable, stable name (CloudFormation then blocks deleting storage while
    another stack imports it, so data cannot be destroyed from under running compute)."""
    for name in BUCKET_NAMES:
        CfnOutput(
            stack,
            f"{name.capitalize()}BucketArn",
            value=getattr(buckets, name).bucket_arn,
            export_name=arn_export_name(name_prefix, name),
        )


class SharedBuckets(Construct):
    """The storage stack's buckets, imported by export name into another stack."""

    def __init__(self, scope: Construct, construct_id: str, *, name_prefix: str) -> None:
        super().__init__(scope, construct_id)
        self._name_prefix = name_prefix
        for name in BUCKET_NAMES:
            bucket = s3.Bucket.from_bucket_attributes(
                self, name.capitalize(), bucket_arn=Fn.import_value(arn_export_name(name_prefix, name))
            )
            setattr(self, name, bucket)
        self.ratings: s3.IBucket
        self.artifacts: s3.IBucket
        self.results: s3.IBucket
        self.logs: s3.IBucket

    def grant_prefix(self, role: iam.IRole, bucket: str, prefix: str, actions: list[str], *, list_prefix: bool) -> None:
        """Grants ``actions`` on objects under ``prefix`` of one bucket (and optionally listing that prefix).

        The object ARN necessarily ends in ``prefix*``; the matching cdk-nag IAM5 finding is acknowledged here,
        exactly, because the wildcard is confined to the prefix the role works in.
        """
        target: s3.IBucket = getattr(self, bucket)
        role.add_to_principal_policy(iam.PolicyStatement(actions=actions, resources=[target.arn_for_objects(f"{prefix}*")]))
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::{arn_export_name(self._name_prefix, bucket)}/{prefix}*]",
            f"Object access is confined to the {prefix} prefix of the {bucket} bucket, where this role works.",
        )
        if list_prefix:
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["s3:ListBucket"],
                    resources=[target.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
                )
            )
