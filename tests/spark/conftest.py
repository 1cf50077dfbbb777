"""Small-data helpers for the Spark tests (the shared session, ``spark``, is in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def write_lines(tmp_path: Path):
    """write_lines(name, lines) -> path of a text file holding those lines."""

    def _write(name: str, lines: list) -> str:
        path = tmp_path / name
        path.write_text("".join(line + "\n" for line in lines))
        return str(path)

    return _write


@pytest.fixture(scope="module")
def synthetic_dir(tmp_path_factory) -> Path:
    """The small synthetic dataset (u.data, u.test, oracle.json), written once per test module."""
    from spark_jobs.local.synthetic_ratings import generate, write_dataset
    from tests.spark.job_support import SMALL_SPEC

    out = tmp_path_factory.mktemp("synthetic")
    write_dataset(generate(SMALL_SPEC), out)
    return out


@pytest.fixture(scope="module")
def synthetic_part(synthetic_dir: Path) -> Path:
    """The first 3,000 of the small dataset's ratings (u.data format), for tests of what a run does (its tuning
    grid, the users it lists for, seeding), which does not depend on how many ratings there are."""
    part = synthetic_dir / "part.data"
    part.write_text("\n".join((synthetic_dir / "u.data").read_text().splitlines()[:3000]) + "\n")
    return part
