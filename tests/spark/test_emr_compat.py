"""The job must run on the EMR release the stacks pin: same Spark minor locally, Python 3.9 on the nodes."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pyspark
import pytest

from stacks.emr_release import DEFAULT_EMR_RELEASE, EMR_RELEASES, spark_version

ROOT = Path(__file__).resolve().parents[2]
JOB_FILES = sorted(path for path in (ROOT / "spark_jobs").rglob("*.py") if "__pycache__" not in path.parts)

# Names that only exist from Python 3.10 on (module attribute or builtin), as far as we use such things.
NEWER_THAN_39 = {
    "pairwise": "itertools.pairwise (3.10)",
    "bit_count": "int.bit_count (3.10)",
    "aiter": "aiter (3.10)",
    "anext": "anext (3.10)",
    "TypeAlias": "typing.TypeAlias (3.10)",
    "ParamSpec": "typing.ParamSpec (3.10)",
    "TypeGuard": "typing.TypeGuard (3.10)",
    "Self": "typing.Self (3.11)",
    "UTC": "datetime.UTC (3.11)",
    "StrEnum": "enum.StrEnum (3.11)",
    "ExceptionGroup": "ExceptionGroup (3.11)",
    "tomllib": "tomllib (3.11)",
}
# Keyword arguments that only exist from 3.10: zip(strict=), dataclass(slots=, kw_only=).
NEWER_KEYWORDS = {("zip", "strict"), ("dataclass", "slots"), ("dataclass", "kw_only")}
TYPE_NAMES = {"int", "float", "str", "bytes", "bool", "list", "dict", "set", "tuple", "type", "object"}


def _annotation_nodes(tree: ast.AST) -> set:
    """ids of every node inside an annotation (never evaluated under `from __future__ import annotations`)."""
    inside = set()
    for node in ast.walk(tree):
        annotations = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            every = args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]
            annotations = [a.annotation for a in every if a is not None] + [node.returns]
        elif isinstance(node, ast.AnnAssign):
            annotations = [node.annotation]
        for annotation in annotations:
            if annotation is not None:
                inside.update(id(sub) for sub in ast.walk(annotation))
    return inside


def _looks_like_type(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant) and node.value is None:
        return True
    if isinstance(node, ast.Name) and (node.id in TYPE_NAMES or node.id[:1].isupper()):
        return True
    return isinstance(node, (ast.Subscript, ast.Attribute)) or (
        isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr) and _looks_like_type(node.left)
    )


def python39_problems(source: str) -> list:
    """Why source would not run on Python 3.9 (empty when it would)."""
    try:
        tree = ast.parse(source, feature_version=(3, 9))
    except SyntaxError as exc:
        return [f"not Python 3.9 syntax: {exc}"]
    problems = []
    future = any(
        isinstance(n, ast.ImportFrom) and n.module == "__future__" and any(a.name == "annotations" for a in n.names)
        for n in tree.body
    )
    if not future:
        problems.append("missing `from __future__ import annotations`")
    in_annotation = _annotation_nodes(tree) if future else set()
    for node in ast.walk(tree):
        line = getattr(node, "lineno", "?")
        if type(node).__name__ in ("Match", "TryStar"):
            problems.append(f"line {line}: {type(node).__name__} needs Python 3.10+")
        elif (
            isinstance(node, ast.BinOp)
            and isinstance(node.op, ast.BitOr)
            and id(node) not in in_annotation
            and (_looks_like_type(node.left) and _looks_like_type(node.right))
        ):
            problems.append(f"line {line}: `X | Y` type union evaluated at runtime needs Python 3.10+")
        elif isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            problems.extend(
                f"line {line}: {name}({keyword.arg}=) needs Python 3.10+"
                for keyword in node.keywords
                if (name, keyword.arg) in NEWER_KEYWORDS
            )
        if isinstance(node, ast.Attribute) and node.attr in NEWER_THAN_39:
            problems.append(f"line {line}: {NEWER_THAN_39[node.attr]}")
        elif isinstance(node, ast.Name) and node.id in NEWER_THAN_39:
            problems.append(f"line {line}: {NEWER_THAN_39[node.id]}")
        elif isinstance(node, ast.alias) and node.name.split(".")[-1] in NEWER_THAN_39:
            problems.append(f"line {line}: {NEWER_THAN_39[node.name.split('.')[-1]]}")
    return problems


def _version_key(version: str) -> tuple:
    return tuple(int(part) for part in version.split("."))


def test_installed_pyspark_is_the_default_emr_releases_spark():
    assert pyspark.__version__ == spark_version(DEFAULT_EMR_RELEASE)


def test_requirements_pin_the_default_releases_spark_version():
    for name in ("requirements.in", "requirements.txt"):  # the pin, and the lock (with hashes) setup installs
        pins = re.findall(r"^pyspark==([^\s\\]+)", (ROOT / name).read_text(), re.MULTILINE)
        assert pins == [EMR_RELEASES[DEFAULT_EMR_RELEASE]], name


def test_default_release_is_the_newest_listed_spark_3_5_release():
    spark_35 = [label for label, version in EMR_RELEASES.items() if version.startswith("3.5.")]
    newest = max(spark_35, key=lambda label: _version_key(label[len("emr-") :]))
    assert newest == DEFAULT_EMR_RELEASE
    assert spark_version("emr-7.9.0") == "3.5.5"
    with pytest.raises(ValueError, match=r"unknown EMR release 'emr-9\.9\.9'"):
        spark_version("emr-9.9.9")


def test_spark_job_files_exist():
    names = {p.relative_to(ROOT / "spark_jobs").as_posix() for p in JOB_FILES}
    assert names >= {"als_job.py", "als/job.py", "als/ratings.py", "local/synthetic_ratings.py", "local/run_sample.py"}


@pytest.mark.parametrize("path", JOB_FILES, ids=lambda p: p.relative_to(ROOT / "spark_jobs").as_posix())
def test_spark_job_file_is_valid_python_3_9(path):
    assert python39_problems(path.read_text()) == []


@pytest.mark.parametrize(
    "source, problem",
    [
        ("x = 1\n", "missing `from __future__ import annotations`"),
        ("from __future__ import annotations\nmatch x:\n    case 1:\n        pass\n", "not Python 3.9 syntax"),
        ("from __future__ import annotations\nIntOrNone = int | None\n", "type union evaluated at runtime"),
        ("from __future__ import annotations\nok = isinstance(x, str | bytes)\n", "type union evaluated at runtime"),
        ("from __future__ import annotations\nfor a, b in zip(x, y, strict=True):\n    pass\n", "zip(strict=)"),
        ("from __future__ import annotations\nimport itertools\nitertools.pairwise(x)\n", "itertools.pairwise"),
        (
            "from __future__ import annotations\nimport datetime\nnow = datetime.datetime.now(datetime.UTC)\n",
            "datetime.UTC",
        ),
    ],
)
def test_the_python_3_9_check_catches(source, problem):
    assert any(problem in found for found in python39_problems(source))


def test_the_python_3_9_check_allows_annotations_and_integer_or():
    source = (
        "from __future__ import annotations\n"
        "def f(a: int | None, flags: int) -> dict[str, int] | None:\n"
        "    x: list[int] | None = None\n"
        "    return {'m': flags | 4}\n"
    )
    assert python39_problems(source) == []
