"""Constructs: one module per logical unit of the lab. Each takes a frozen props dataclass."""
