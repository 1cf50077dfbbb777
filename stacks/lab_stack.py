"""The base of the project's stacks."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

CDK_HANDLER_LOGS_ID = "CdkHandlerLogs"


class LabStack(Stack):
    """A stack whose first child holds the log groups of CDK-generated handlers (see cdk_generated_handlers).

    Being first puts those log groups first in the template. CloudFormation orders by dependencies anyway; the
    local emulator used by the lifecycle test creates resources in template order, and would otherwise run a
    custom resource (creating the handler's log group itself) before the declared group exists.
    """

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.cdk_handler_logs = Construct(self, CDK_HANDLER_LOGS_ID)
