"""The one mapping from Amazon EMR release label to the Apache Spark version it ships.

Source: Amazon EMR Release Guide, "Spark release history" table
(https://docs.aws.amazon.com/emr/latest/ReleaseGuide/Spark-release-history.html).
EMR ships Amazon builds ("3.5.6-amzn-2"); only the upstream version is kept here, because that is
what the local pyspark pin in requirements.txt must match. Only releases checked against that
table are listed; add a row when a newer release is confirmed, then bump the pyspark pin.
"""

from __future__ import annotations

EMR_RELEASES: dict[str, str] = {
    "emr-7.8.0": "3.5.4",
    "emr-7.9.0": "3.5.5",
    "emr-7.10.0": "3.5.5",
    "emr-7.11.0": "3.5.6",
    "emr-7.12.0": "3.5.6",
    "emr-7.13.0": "3.5.6",
}

# Newest confirmed 7.x release; requirements.txt pins pyspark to EMR_RELEASES[DEFAULT_EMR_RELEASE].
DEFAULT_EMR_RELEASE = "emr-7.13.0"


def spark_version(release: str) -> str:
    """Upstream Spark version of an EMR release label, e.g. "emr-7.13.0" -> "3.5.6"."""
    try:
        return EMR_RELEASES[release]
    except KeyError:
        known = ", ".join(sorted(EMR_RELEASES))
        raise ValueError(f"unknown EMR release {release!r}; known: {known}") from None
