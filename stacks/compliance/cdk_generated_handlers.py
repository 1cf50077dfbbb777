"""The Lambda handlers CDK generates for its own custom resources (auto-delete objects, bucket notifications).

Their audit exceptions are recorded here, and each gets a declared log group. Lambda creates ``/aws/lambda/<function>`` on a function's first run when nothing else did, and CloudFormation
never deletes such a group, so ``cdk destroy`` would leave it behind with no retention. Declaring the group in
the stack (before any custom resource can invoke the handler) gives it retention and removes it on destroy.
"""

from __future__ import annotations

from aws_cdk import CfnResource, Fn, RemovalPolicy, Stack
from aws_cdk import aws_logs as logs

from stacks.compliance.acknowledgements import acknowledge, skip_cfn_lint, skip_checkov
from stacks.lab_stack import LabStack

AUTO_DELETE_PROVIDER_ID = "Custom::S3AutoDeleteObjectsCustomResourceProvider"
CUSTOM_RESOURCE_TYPES = ("Custom::S3AutoDeleteObjects", "Custom::S3BucketNotifications")


def _generated_handlers(stack: Stack) -> dict[str, CfnResource]:
    handlers: dict[str, CfnResource] = {}
    provider = stack.node.try_find_child(AUTO_DELETE_PROVIDER_ID)
    if provider is not None:
        handlers["AutoDeleteObjectsHandler"] = provider.node.find_child("Handler")  # type: ignore[assignment]
    for child in stack.node.children:
        if child.node.id.startswith("BucketNotificationsHandler"):
            acknowledge(
                child.node.find_child("Role"),
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
                "CDK's generated bucket-notification configurator; the AWS basic execution policy only writes its logs.",
            )
            handlers["BucketNotificationsHandler"] = child.node.find_child("Resource")  # type: ignore[assignment]
    return handlers


def _record_audit_exceptions(handler: CfnResource) -> None:
    skip_cfn_lint(
        handler,
        "W3005",
        "CDK generates this handler with both DependsOn and GetAtt on its role; redundant, harmless, not ours.",
    )
    # checkov's Lambda checks do not fit handlers that only CloudFormation calls, during deploy and destroy.
    skip_checkov(
        handler, "CKV_AWS_116", "CDK-generated custom resource handler, called synchronously by CloudFormation only."
    )
    skip_checkov(
        handler, "CKV_AWS_117", "CDK-generated custom resource handler; it calls only the S3 API, no VPC needed."
    )
    skip_checkov(handler, "CKV_AWS_115", "CDK-generated custom resource handler, runs only during deploy and destroy.")


def harden_cdk_generated_handlers(stack: LabStack, *, retention_days: int) -> None:
    """Records each handler's audit exceptions and adds its log group; every custom resource waits for them."""
    groups = []
    for name, handler in _generated_handlers(stack).items():
        _record_audit_exceptions(handler)
        group = logs.CfnLogGroup(
            stack.cdk_handler_logs,
            f"{name}LogGroup",
            log_group_name=Fn.join("", ["/aws/lambda/", handler.ref]),
            retention_in_days=retention_days,
        )
        group.apply_removal_policy(RemovalPolicy.DESTROY)
        skip_checkov(
            group,
            "CKV_AWS_158",
            "Deploy-time logs of a CDK-generated handler; CloudWatch encrypts them at rest with service keys.",
        )
        groups.append(group)
    if not groups:
        return
    for construct in stack.node.find_all():
        if isinstance(construct, CfnResource) and construct.cfn_resource_type in CUSTOM_RESOURCE_TYPES:
            for group in groups:
                construct.add_resource_dependency(group)
