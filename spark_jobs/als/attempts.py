"""Run ids, and how an attempt's outputs become <output>/<run-id> (RunFolders).

A run folder with _SUCCESS is complete and never touched again (RunCompleteError); of concurrent
attempts of one run id exactly one is promoted, the others raise RunLostError; whatever happens, an
attempt's own folder is gone when it ends.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import re
import time
import uuid
from collections.abc import Iterator

from pyspark.sql import SparkSession

from .hadoop_files import (
    ATOMIC_CREATE_SCHEMES,
    child_names,
    create_exclusive,
    delete_if_empty,
    delete_path,
    hadoop_path,
    path_exists,
    read_text,
    write_text,
)
from .spark_helpers import jvm

# The run ids the job accepts: the ones lab_contract (names.py) generates, and any short, path-safe name.
RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

ATTEMPTS_DIR = "_attempts"  # a leading underscore: Hadoop and Spark readers treat it as hidden
CLAIM_FILE = "_claim"
SUCCESS_FILE = "_SUCCESS"
CLAIM_STALE_SECONDS = 900  # a claim older than this belongs to a promotion that died
CLAIM_SETTLE_SECONDS = 2.0  # stores without exclusive create: re-read the claim after this long


class RunCompleteError(Exception):
    """<output>/<run-id>/_SUCCESS exists: the run id is done and is never overwritten."""


class RunLostError(Exception):
    """Another attempt of the same run id completed it or is promoting it; this attempt's output is dropped."""


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def default_run_id() -> str:
    """UTC time plus a random suffix, so two runs started in the same second do not collide."""
    return f"{utc_now().strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:8]}"


class RunFolders:
    """Where a run's attempt writes and how it becomes <output>/<run-id>.

    Each attempt writes to <output>/_attempts/<run-id>/<attempt-id>/. On success it claims the run
    (exclusive create of _attempts/<run-id>/_claim), replaces whatever partial folder a failed
    attempt left at <output>/<run-id>, moves its outputs there and writes _SUCCESS last: a run
    folder without _SUCCESS is a failed attempt that a retry may replace; one with it is never
    touched again. Works through the Hadoop FileSystem API, so local paths, HDFS and S3 (where a
    directory move is copy + delete) behave the same.
    """

    def __init__(self, spark: SparkSession, output: str, run_id: str) -> None:
        self.spark = spark
        root = output.rstrip("/")
        self.run_id = run_id
        self.final = f"{root}/{run_id}"
        self.attempts_root = f"{root}/{ATTEMPTS_DIR}"
        self.run_attempts = f"{self.attempts_root}/{run_id}"
        self.attempt_id = f"{utc_now().strftime('%Y%m%dT%H%M%S%fZ')}-{uuid.uuid4().hex[:8]}"
        self.attempt = f"{self.run_attempts}/{self.attempt_id}"
        self.checkpoints = f"{self.attempt}.checkpoints"
        self.claim = f"{self.run_attempts}/{CLAIM_FILE}"
        self.claimed = False

    def is_complete(self) -> bool:
        return path_exists(self.spark, f"{self.final}/{SUCCESS_FILE}")

    def check_not_complete(self) -> None:
        if self.is_complete():
            raise RunCompleteError(
                f"{self.final} is already complete ({SUCCESS_FILE} exists) and is never overwritten; "
                "choose another --run-id"
            )

    def _claim_age_seconds(self) -> float:
        fs, path = hadoop_path(self.spark, self.claim)
        try:
            modified = fs.getFileStatus(path).getModificationTime() / 1000.0
        except Exception:
            return 0.0
        return time.time() - modified

    def acquire(self) -> None:
        """Claim the run for this attempt, or raise RunLostError naming the attempt that has it.

        A claim older than CLAIM_STALE_SECONDS belongs to a promotion that died: it is broken once.
        """
        token = json.dumps({"attempt": self.attempt_id, "claimed_at": utc_now().isoformat(timespec="seconds")})
        for tries_left in (1, 0):
            if create_exclusive(self.spark, self.claim, token):
                self.claimed = self._confirm(token)
                if self.claimed:
                    break
            elif tries_left and self._claim_age_seconds() > CLAIM_STALE_SECONDS:
                delete_path(self.spark, self.claim, recursive=False)
                continue
            holder = read_text(self.spark, self.claim).strip() or "another attempt"
            raise RunLostError(f"run {self.run_id} is being promoted by {holder}; this attempt's output is dropped")
        if self.is_complete():
            raise self._completed_by_another()

    def _completed_by_another(self) -> RunLostError:
        return RunLostError(
            f"run {self.run_id} was completed by another attempt ({self.final}); this attempt's output is dropped"
        )

    def _confirm(self, token: str) -> bool:
        """On stores without exclusive create, a racing writer may have replaced the claim: re-read it
        after CLAIM_SETTLE_SECONDS, longer than the check-then-write window, and keep it only if it is ours."""
        fs, _ = hadoop_path(self.spark, self.claim)
        if str(fs.getScheme()) in ATOMIC_CREATE_SCHEMES:
            return True
        time.sleep(CLAIM_SETTLE_SECONDS)
        return read_text(self.spark, self.claim).strip() == token

    def promote(self) -> None:
        """Move this attempt's outputs to the run folder, replacing a failed attempt's partial folder;
        _SUCCESS is written last, then every attempt folder of the run is removed."""
        self.acquire()
        fs, final = hadoop_path(self.spark, self.final)
        if fs.exists(final):
            fs.delete(final, True)
        fs.mkdirs(final)
        path_class = jvm(self.spark).org.apache.hadoop.fs.Path
        for name in child_names(self.spark, self.attempt):
            if not fs.rename(path_class(f"{self.attempt}/{name}"), path_class(f"{self.final}/{name}")):
                raise OSError(f"could not move {self.attempt}/{name} to {self.final}/{name}")
        write_text(self.spark, f"{self.final}/{SUCCESS_FILE}", "")
        # Committed. Stale attempts of this run (and the claim) go; a concurrent attempt still
        # running finds the run complete and exits with EXIT_RUN_LOST.
        delete_path(self.spark, self.run_attempts)
        self.claimed = False
        delete_if_empty(self.spark, self.attempts_root)

    @contextlib.contextmanager
    def attempting(self) -> Iterator[None]:
        """The attempt's block: when it fails, this attempt's folder is removed and, when another attempt
        completed the run meanwhile, the failure becomes RunLostError."""
        try:
            yield
        except Exception:
            self.discard()
            if self.is_complete():
                raise self._completed_by_another() from None
            raise

    def discard(self) -> None:
        """Remove this attempt's folder (and its claim, if it holds one); leaves other attempts alone."""
        delete_path(self.spark, self.attempt)
        delete_path(self.spark, self.checkpoints)
        if self.claimed:
            delete_path(self.spark, self.claim, recursive=False)
            self.claimed = False
        delete_if_empty(self.spark, self.run_attempts)
        delete_if_empty(self.spark, self.attempts_root)
