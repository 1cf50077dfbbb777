"""Benchmark: whole-app `cdk synth` wall time against a bare one-bucket CDK app, same CLI, same run.

Run: `make bench` (or `.venv/bin/python -m bench.synth_bench --repeat 3`). Prints a table; no AWS needed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CDK = ROOT / "node_modules" / ".bin" / "cdk"

BARE_APP = """
from aws_cdk import App, Stack, aws_s3 as s3
app = App()
stack = Stack(app, "Bare")
s3.Bucket(stack, "Bucket")
app.synth()
"""


def synth_seconds(app_command: str, cwd: Path, outdir: Path) -> float:
    env = {
        **os.environ,
        "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "CDK_DISABLE_VERSION_CHECK": "1",
        "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
    }
    start = time.perf_counter()
    subprocess.run(
        [str(CDK), "synth", "--quiet", "--app", app_command, "--output", str(outdir)],
        cwd=cwd,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - start


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    python = str(ROOT / ".venv" / "bin" / "python")
    with tempfile.TemporaryDirectory() as tmp:
        bare_dir = Path(tmp) / "bare"
        bare_dir.mkdir()
        (bare_dir / "app.py").write_text(BARE_APP)
        rows: dict[str, list[float]] = {"bare one-bucket app": [], "this app (3 stacks, cdk-nag)": []}
        for i in range(args.repeat):  # interleaved, so both see the same machine load
            rows["bare one-bucket app"].append(synth_seconds(f"{python} app.py", bare_dir, Path(tmp) / f"b{i}"))
            rows["this app (3 stacks, cdk-nag)"].append(synth_seconds(f"{python} app.py", ROOT, Path(tmp) / f"a{i}"))
    print(f"cdk synth wall time, {args.repeat} interleaved runs each (seconds)")
    print(f"{'app':32} {'median':>8} {'min':>8} {'max':>8}")
    for name, times in rows.items():
        print(f"{name:32} {statistics.median(times):8.2f} {min(times):8.2f} {max(times):8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
