"""Files through the Hadoop FileSystem API, so local paths, hdfs:// and s3:// (EMRFS) behave alike.

Reads of what is not there return empty text, False or 0; deletes of what is not there succeed;
create_exclusive is atomic where the file system allows it (ATOMIC_CREATE_SCHEMES) and says where it is not.
"""

from __future__ import annotations

import contextlib

from pyspark.sql import SparkSession

from .spark_helpers import jvm

ATOMIC_CREATE_SCHEMES = ("file", "hdfs")  # file systems whose create-without-overwrite is atomic


def hadoop_path(spark: SparkSession, uri: str) -> tuple:
    """(FileSystem, Path) through the JVM, so local paths, hdfs:// and s3:// (EMRFS) all work."""
    path = jvm(spark).org.apache.hadoop.fs.Path(uri)
    return path.getFileSystem(spark._jsc.hadoopConfiguration()), path


def path_exists(spark: SparkSession, uri: str) -> bool:
    fs, path = hadoop_path(spark, uri)
    return bool(fs.exists(path))


def write_text(spark: SparkSession, uri: str, text: str, overwrite: bool = False) -> None:
    """Create uri holding text; without overwrite it fails if uri exists."""
    fs, path = hadoop_path(spark, uri)
    stream = fs.create(path, overwrite)
    try:
        stream.write(bytearray(text.encode("utf-8")))
    finally:
        stream.close()


def read_text(spark: SparkSession, uri: str) -> str:
    """The whole file as text; empty when it does not exist (any more)."""
    fs, path = hadoop_path(spark, uri)
    try:
        stream = fs.open(path)
    except Exception:
        return ""
    gateway = jvm(spark)
    try:
        return str(gateway.org.apache.commons.io.IOUtils.toString(stream, "UTF-8"))
    finally:
        stream.close()


def delete_path(spark: SparkSession, uri: str, recursive: bool = True) -> None:
    fs, path = hadoop_path(spark, uri)
    with contextlib.suppress(Exception):  # gone already, or (not recursive) not empty: both are fine
        fs.delete(path, recursive)


def delete_if_empty(spark: SparkSession, uri: str) -> None:
    fs, path = hadoop_path(spark, uri)
    with contextlib.suppress(Exception):
        if fs.exists(path) and len(fs.listStatus(path)) == 0:
            fs.delete(path, False)


def child_names(spark: SparkSession, uri: str) -> list:
    fs, path = hadoop_path(spark, uri)
    return sorted(str(status.getPath().getName()) for status in fs.listStatus(path))


def input_bytes(spark: SparkSession, uri: str) -> int:
    """Total size of the files uri names (a file, a directory or a glob); 0 when it cannot tell."""
    fs, path = hadoop_path(spark, uri)
    try:
        statuses = fs.globStatus(path) or []
        return int(sum(fs.getContentSummary(status.getPath()).getLength() for status in statuses))
    except Exception:
        return 0


def create_exclusive(spark: SparkSession, uri: str, text: str) -> bool:
    """Create uri holding text unless it exists; True when this call created it.

    Atomic on the local file system (java.io.File.createNewFile, O_EXCL) and HDFS (create without
    overwrite). Object stores (s3:// through EMRFS or S3A) check then write, so two writers can both
    get True within a few milliseconds: callers confirm with confirm_claim.
    """
    fs, path = hadoop_path(spark, uri)
    fs.mkdirs(path.getParent())
    scheme = str(fs.getScheme())
    if scheme == "file":
        local = jvm(spark).java.io.File(fs.makeQualified(path).toUri())
        if not local.createNewFile():
            return False
        write_text(spark, uri, text, overwrite=True)
        return True
    if scheme not in ATOMIC_CREATE_SCHEMES and fs.exists(path):
        return False
    try:
        write_text(spark, uri, text)
    except Exception as exc:
        if "FileAlreadyExists" in str(exc) or fs.exists(path):
            return False
        raise
    return True
