"""Spark batch jobs (als_job.py is submitted on its own) and their local runner."""

from __future__ import annotations
