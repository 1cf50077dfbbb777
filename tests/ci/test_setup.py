"""`make setup` installs each virtual environment from its lock with hashes enforced: uv, itself installed by pip
from its pin and hashes in the dev lock, then the lock by uv. Read from `make -n` (what make would run), for two
environments in a scratch folder: nothing is installed."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def setup_commands(tmp_path: Path) -> list[str]:
    dev, audit = tmp_path / "dev", tmp_path / "audit"
    done = subprocess.run(
        ["make", "-n", "-B", "--no-print-directory", f"VENV={dev}", f"AUDIT_VENV={audit}", "setup"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return list(dict.fromkeys(done.stdout.splitlines()))  # -B remakes .venv again for node_modules' stamp


def test_each_lock_is_installed_by_uv_with_hashes_required_after_pip_installs_uv_from_the_dev_lock(
    tmp_path: Path,
) -> None:
    commands = setup_commands(tmp_path)
    installs = [line for line in commands if re.search(r"\bpip install\b", line)]
    assert installs and all("--require-hashes" in line for line in installs), installs
    for venv, lock in (("dev", "requirements-dev.txt"), ("audit", "requirements-audit.txt")):
        python = f"{tmp_path / venv}/bin/python"
        own = [line for line in installs if python in line]
        assert [line.split()[0] for line in own] == [python, f"{tmp_path / venv}/bin/uv"], own
        assert own[0].endswith(f"-r {tmp_path / venv}/uv.txt"), own[0]
        assert own[1].endswith(f"--python {python} -r {lock}"), own[1]
        assert any(line.endswith(f"requirements-dev.txt > {tmp_path / venv}/uv.txt") for line in commands), commands


def test_the_lines_pip_installs_uv_from_are_its_pin_and_hashes_in_the_dev_lock(tmp_path: Path) -> None:
    [extract] = {line.rsplit(" > ", 1)[0] for line in setup_commands(tmp_path) if line.startswith("awk '/^uv==/")}
    lines = subprocess.run(["bash", "-c", extract], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    [pin] = re.findall(r"^uv==\S+", (ROOT / "requirements-dev.in").read_text(), re.M)
    first, *hashes = lines.splitlines()
    assert first == f"{pin} \\"
    assert hashes and all(re.fullmatch(r" {4}--hash=sha256:[0-9a-f]{64}( \\)?", line) for line in hashes), hashes
    assert not hashes[-1].endswith("\\"), "the extract stops inside the pin's hashes"
