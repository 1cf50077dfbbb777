"""The ALS batch job (als_job.py and the package als/, what ships to EMR) and the local tools that run it (local/)."""

from __future__ import annotations
