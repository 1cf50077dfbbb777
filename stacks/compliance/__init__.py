"""Audit support for the stacks: acknowledgements with reasons, the residency rule, CDK-generated handlers."""
