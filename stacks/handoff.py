"""Values one stack hands another through SSM parameters instead of CloudFormation exports.

CloudFormation refuses to change an exported value while another stack imports it ("Fn::ImportValue",
CloudFormation Template Reference: you can't modify or remove an output value that is referenced by another stack).
A routine change that replaces a resource (a new workstation image, another network mode, new security configuration
settings, another cluster definition) changes its id, so an export of that id would stop the deployment. Here the
producing stack writes the value to an SSM parameter, named after the deployment (``/<project>-<stage>/...``), and
the consuming stack declares a template parameter of type ``AWS::SSM::Parameter::Value<String>`` that CloudFormation
resolves at every deployment of the consumer ("Specify existing resources at runtime with CloudFormation-supplied
parameter types", CloudFormation User Guide). The CDK CLI never skips deploying a stack with such a parameter, even
when its template is unchanged (it cannot tell whether the value changed: aws/aws-cdk pull request 17099, a
maintainer's description), so `cdk deploy --all` (`make deploy`) updates the consumer right after the producer.
Nothing ties the two at the CloudFormation level, so nothing blocks; the price is that deploying the producer alone
(`cdk deploy Compute`) leaves the consumer on the old values until it is deployed too.
"""

from __future__ import annotations

import re
from typing import Any

from aws_cdk import CfnParameter, Stack, Token
from aws_cdk import aws_ssm as ssm
from constructs import Construct


class Handoff:
    """Carries values from ``producer`` (a stack's construct) into ``consumer`` (another stack's construct)."""

    def __init__(self, producer: Construct, consumer: Construct, *, name_prefix: str) -> None:
        self._producer, self._consumer, self._name_prefix = producer, consumer, name_prefix
        self._carried: dict[str, str] = {}

    def parameter_name(self, key: str) -> str:
        return f"/{self._name_prefix}/handoff/{key}"

    def value(self, key: str, value: str) -> str:
        """``value`` (a token of the producer's stack) as the consumer reads it; a literal passes unchanged."""
        if not Token.is_unresolved(value):
            return value
        if key not in self._carried:
            construct_id = "Handoff" + "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", key))
            name = self.parameter_name(key)
            ssm.StringParameter(
                self._producer,
                construct_id,
                parameter_name=name,
                string_value=value,
                description=f"Read by the {Stack.of(self._consumer).stack_name} stack at deployment (not an export)",
            )
            parameter = CfnParameter(
                Stack.of(self._consumer),
                construct_id,
                type="AWS::SSM::Parameter::Value<String>",
                default=name,
                description=f"{name}, written by the {Stack.of(self._producer).stack_name} stack",
            )
            self._carried[key] = parameter.value_as_string
        return self._carried[key]

    def tree(self, key: str, value: Any) -> Any:
        """``value`` (a JSON-like tree) with each token leaf carried, keyed by its path under ``key``."""
        if isinstance(value, dict):
            return {name: self.tree(f"{key}-{name}", item) for name, item in value.items()}
        if isinstance(value, list):
            return [self.tree(f"{key}-{index}", item) for index, item in enumerate(value)]
        if isinstance(value, str):
            return self.value(key, value)
        return value
