"""Files through the Hadoop FileSystem API, so local paths, hdfs:// and s3:// (EMRFS) behave alike.

Reads of what is not there return empty text, False or 0; deletes of what is not there succeed;
create_exclusive is atomic where the file system allows it (ATOMIC_CREATE_SCHEMES) and says where it is not.
The ratings are read with READ_OPTIONS (see input_read_options): names with ':', glob characters, spaces,
'%' or '#' are read as they are, and local files without checksums.
"""

from __future__ import annotations

import contextlib
import os
import re

from pyspark.sql import SparkSession

from .spark_helpers import jvm

ATOMIC_CREATE_SCHEMES = ("file", "hdfs")  # file systems whose create-without-overwrite is atomic
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:/")  # s3://, hdfs://, file:/...; anything else is a local path
# A file source passes its options into the Hadoop configuration of its own read, so these apply to the
# ratings only. Local files are read through RawLocalFileSystem: the checksummed LocalFileSystem builds its
# side file's name (".<name>.crc") with Hadoop's Path parser, which fails on a ':' in the name, and fails a
# part file edited after Spark wrote it; every row is validated by the job anyway, and S3 has no such files.
READ_OPTIONS = {"fs.file.impl": "org.apache.hadoop.fs.RawLocalFileSystem", "fs.file.impl.disable.cache": "true"}
# Spark's own switch (DataSource.GLOB_PATHS_KEY) for a path that must not be expanded as a glob: Hadoop's
# Globber rebuilds every listed name with the Path parser (a ':' in any sibling's name fails it) and reads
# '*?[]{}\\' as patterns.
NO_GLOB = {"__globPaths__": "false"}


def hadoop_path(spark: SparkSession, uri: str) -> tuple:
    """(FileSystem, Path) through the JVM, so local paths, hdfs:// and s3:// (EMRFS) all work."""
    path = jvm(spark).org.apache.hadoop.fs.Path(uri)
    return path.getFileSystem(spark._jsc.hadoopConfiguration()), path


def local_absolute(uri: str) -> str:
    """uri with a local relative path made absolute: Hadoop's Path parser reads 'a:b.csv' as scheme 'a'."""
    return uri if SCHEME.match(uri) or uri.startswith("/") else os.path.abspath(uri)


def input_read_options(spark: SparkSession, uri: str) -> dict:
    """Spark read options for an input: READ_OPTIONS, and NO_GLOB when uri names an existing file or
    directory as it is (a literal name wins over a glob that happens to match it)."""
    try:
        literal = path_exists(spark, uri)
    except Exception:  # a name the Path parser refuses: not a literal path Spark could read either
        literal = False
    return {**READ_OPTIONS, **NO_GLOB} if literal else dict(READ_OPTIONS)


def input_files(spark: SparkSession, uri: str) -> list:
    """The files an input names (a file, a directory's visible files, or a glob's matches), as Spark reads
    them; names starting with '_' or '.' are skipped, as Spark skips them. Empty when it cannot tell."""
    fs, path = hadoop_path(spark, uri)
    try:
        statuses = [fs.getFileStatus(path)] if fs.exists(path) else list(fs.globStatus(path) or [])
        files = []
        for status in statuses:
            children = fs.listStatus(status.getPath()) if status.isDirectory() else [status]
            files += [str(child.getPath()) for child in children if child.isFile()]
    except Exception:
        return []
    return sorted(name for name in files if not name.rsplit("/", 1)[-1].startswith(("_", ".")))


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
        statuses = [fs.getFileStatus(path)] if fs.exists(path) else (fs.globStatus(path) or [])
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
