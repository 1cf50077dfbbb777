"""How the compute and automation stacks reach the storage stack's buckets: named exports, prefix grants."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import CfnOutput, Fn, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.compliance.acknowledgements import acknowledge
from stacks.constructs.data_buckets import DataBuckets


def arn_export_name(name_prefix: str, bucket: str) -> str:
    return f"{name_prefix}-{bucket}-bucket-arn"


def export_bucket_arns(stack: Stack, buckets: DataBuckets, *, name_prefix: str) -> None:
    """Exports each bucket ARN under a readable, stable name (CloudFormation then blocks deleting storage while
    another stack imports it, so data cannot be destroyed from under running compute)."""
    for name, bucket in buckets.by_name().items():
        CfnOutput(
            stack,
            f"{name.capitalize()}BucketArn",
            value=bucket.bucket_arn,
            export_name=arn_export_name(name_prefix, name),
        )


@dataclass(frozen=True, kw_only=True)
class SharedBucketsProps:
    name_prefix: str
    """``<project>-<stage>``: the storage stack exported each bucket ARN as ``<name_prefix>-<bucket>-bucket-arn``."""


class SharedBuckets(Construct):
    """The storage stack's buckets, imported by export name into another stack.

    Grants made through ``grant_prefix`` are confined to one prefix of one bucket.
    """

    def __init__(self, scope: Construct, construct_id: str, *, props: SharedBucketsProps) -> None:
        super().__init__(scope, construct_id)
        self._name_prefix = props.name_prefix
        self.ratings = self._import("ratings")
        self.artifacts = self._import("artifacts")
        self.results = self._import("results")
        self.logs = self._import("logs")

    def _import(self, name: str) -> s3.IBucket:
        return s3.Bucket.from_bucket_attributes(
            self, name.capitalize(), bucket_arn=Fn.import_value(arn_export_name(self._name_prefix, name))
        )

    def by_name(self) -> dict[str, s3.IBucket]:
        """The buckets by name; the names are those of the storage stack's exports."""
        return {"ratings": self.ratings, "artifacts": self.artifacts, "results": self.results, "logs": self.logs}

    def grant_prefix(self, role: iam.IRole, bucket: str, prefix: str, actions: list[str], *, list_prefix: bool) -> None:
        """Grants ``actions`` on objects under ``prefix`` of one bucket (and optionally listing that prefix).

        The object ARN necessarily ends in ``prefix*``; the matching cdk-nag IAM5 finding is acknowledged here,
        exactly, because the wildcard is confined to the prefix the role works in.
        """
        target = self.by_name()[bucket]
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=actions, resources=[target.arn_for_objects(f"{prefix}*")])
        )
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
