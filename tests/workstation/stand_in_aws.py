"""A stand-in for the AWS CLI's ``aws s3 cp`` and ``aws s3 sync`` that serves S3 from a local folder: ``s3://b/k``
is ``$STAND_IN_S3_ROOT/b/k``. Every call is appended to ``$STAND_IN_AWS_LOG``. Anything else is refused (exit 2),
so a script that calls more of the CLI than this serves fails its test."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def local(location: str) -> Path:
    if location.startswith("s3://"):
        return Path(os.environ["STAND_IN_S3_ROOT"]) / location.removeprefix("s3://")
    return Path(location)


def copy(source: str, target: str) -> None:
    source_path, target_path = local(source), local(target)
    if not source_path.is_file():
        sys.exit(f"fatal error: An error occurred (404) when calling the HeadObject operation: {source} not found")
    if target.endswith("/") or target_path.is_dir():
        target_path = target_path / source_path.name
    target_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source_path, target_path)
    print(f"download: {source} to {target}")


def sync(source: str, target: str) -> None:
    source_path, target_path = local(source), local(target)
    for path in sorted(source_path.rglob("*")):
        if path.is_file():
            destination = target_path / path.relative_to(source_path)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)
            print(f"upload: {path} to {target.rstrip('/')}/{path.relative_to(source_path)}")


def main(argv: list[str]) -> int:
    with Path(os.environ["STAND_IN_AWS_LOG"]).open("a") as log:
        log.write(" ".join(argv) + "\n")
    arguments = list(argv)
    if "--region" in arguments:
        index = arguments.index("--region")
        del arguments[index : index + 2]
    match arguments:
        case ["s3", "cp", source, target]:
            copy(source, target)
        case ["s3", "sync", source, target]:
            sync(source, target)
        case _:
            print(f"stand-in aws: not served: aws {' '.join(argv)}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
