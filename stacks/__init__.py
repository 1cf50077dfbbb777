"""CDK constructs and stacks of the scalable-ML lab."""
