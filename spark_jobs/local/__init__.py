"""Tools that run the job on this machine (make run, the tests, the benchmarks); none of it ships to EMR."""

from __future__ import annotations
