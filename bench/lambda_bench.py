"""Lambda package size and cold import time, per function folder, next to a bare `import boto3` handler.

    python -m bench.lambda_bench [--runs 5]

Each function is measured as its asset holds it (stacks/constructs/lambda_function.py: its package, lab_contract
and the entry module handler.py). Size: the asset zipped as the CDK asset is (deflate, level 9).
Cold import: `import handler` in a fresh interpreter with the asset first on sys.path, as Lambda imports it;
Powertools and boto3 come from site-packages (the layer and the runtime on Lambda) and are part of the time.
"import+clients" also builds the function's boto3 clients (no network), which Lambda pays on the first event.
Each figure is the median of N runs; the peer handler is measured in the same run, interleaved.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ROOT / "lambda_functions"
RESULTS = ROOT / "bench" / "results"
# The client factories each handler caches; calling them measures client construction (no AWS call is made).
CLIENT_FACTORIES = {
    "submit_job": ["emr_client", "submit_once"],
    "emr_events": ["s3_client", "sns_client"],
    "spend_guard": ["emr_client", "ec2_client"],
    "peer_boto3": ["s3_client"],
}
PEER_HANDLER = """import boto3

_s3 = None


def s3_client():
    global _s3
    _s3 = _s3 or boto3.client("s3")
    return _s3


def lambda_handler(event, context):
    return {"ok": True}
"""
# argv: the folder, the module that holds the client factories (the function's own handler module, which the
# entry module handler.py imports), the factories.
PROBE = """
import sys, time
sys.path.insert(0, sys.argv[1])
start = time.perf_counter()
import handler
imported = time.perf_counter()
for name in sys.argv[3:]:
    getattr(sys.modules[sys.argv[2]], name)()
print(imported - start, time.perf_counter() - start)
"""
ENV = {
    "PYTHONDONTWRITEBYTECODE": "1",  # function code is compiled at every cold start on Lambda
    "AWS_DEFAULT_REGION": "eu-west-2",
    "AWS_REGION": "eu-west-2",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_EC2_METADATA_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "bench",
}


def zip_size(folder: Path) -> tuple[int, int]:
    """Bytes and file count of the folder zipped like a CDK asset (pycache excluded)."""
    buffer = io.BytesIO()
    files = 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                archive.write(path, path.relative_to(folder).as_posix())
                files += 1
    return len(buffer.getvalue()), files


def cold_import(folder: Path, module: str, factories: list[str], variables: dict[str, str]) -> tuple[float, float]:
    """Seconds to import the handler, and to import it and build its clients, in a fresh interpreter with the
    function's ``variables``."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}, **ENV, **variables}
    output = subprocess.run(
        [sys.executable, "-c", PROBE, str(folder), module, *factories],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=tempfile.gettempdir(),
    ).stdout.split()
    return float(output[0]), float(output[1])


def table_rows(
    samples: dict[str, list[tuple[float, float]]], sizes: dict[str, tuple[int, int]]
) -> list[dict[str, Any]]:
    """One row per function and the peer: size, and import times against the peer's."""
    rows = []
    peer_import = statistics.median(s[0] for s in samples["peer_boto3"])
    for name, runs in samples.items():
        imports = [s[0] for s in runs]
        totals = [s[1] for s in runs]
        rows.append(
            {
                "function": name,
                "zip_bytes": sizes[name][0],
                "files": sizes[name][1],
                "import_ms_median": round(statistics.median(imports) * 1000, 1),
                "import_ms_min": round(min(imports) * 1000, 1),
                "import_ms_max": round(max(imports) * 1000, 1),
                "import_and_clients_ms_median": round(statistics.median(totals) * 1000, 1),
                "x_peer_import": round(statistics.median(imports) / peer_import, 2),
                "runs": len(runs),
            }
        )
    return rows


def print_table(rows: list[dict[str, Any]], runs: int) -> None:
    header = f"{'function':<12} {'zip bytes':>9} {'files':>5} {'import ms (min-max)':>22} {'import+clients ms':>17} {'x peer':>6}"
    print(f"Python {sys.version.split()[0]}, median of {runs} fresh interpreters; peer = bare `import boto3` handler")
    print(header)
    print("-" * len(header))
    for row in rows:
        spread = f"{row['import_ms_median']:.1f} ({row['import_ms_min']:.0f}-{row['import_ms_max']:.0f})"
        print(
            f"{row['function']:<12} {row['zip_bytes']:>9} {row['files']:>5} {spread:>22} "
            f"{row['import_and_clients_ms_median']:>17.1f} {row['x_peer_import']:>6.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    from stacks.constructs.lambda_function import write_function_sources
    from tests.lambda_support import SAMPLE_ENVIRONMENTS  # a complete environment per function, for its cold start

    with tempfile.TemporaryDirectory() as work_dir:
        peer = Path(work_dir) / "peer"
        peer.mkdir()
        (peer / "handler.py").write_text(PEER_HANDLER)
        folders = {
            path.name: write_function_sources(path.name, Path(work_dir) / path.name)
            for path in sorted(FUNCTIONS.iterdir())
            if (path / "handler.py").is_file()
        }
        variables = {name: SAMPLE_ENVIRONMENTS[name].variables() for name in folders}
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in [*folders, "peer_boto3"]}
        for _ in range(args.runs):  # interleaved, so machine load drifts hit every row alike
            for name, folder in folders.items():
                samples[name].append(
                    cold_import(
                        folder, f"lambda_functions.{name}.handler", CLIENT_FACTORIES.get(name, []), variables[name]
                    )
                )
                samples["peer_boto3"].append(cold_import(peer, "handler", CLIENT_FACTORIES["peer_boto3"], {}))
        sizes = {name: zip_size(folder) for name, folder in folders.items()}
        sizes["peer_boto3"] = zip_size(peer)

    rows = table_rows(samples, sizes)
    print_table(rows, args.runs)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "lambda_bench.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
