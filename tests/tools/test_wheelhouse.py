"""make wheelhouse: what it asks pip for, the index the synth checks, and that it only rebuilds when it must."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tools import wheelhouse

TARGET = {"pyspark": "3.5.6", "architecture": "arm64", "python": "3.9"}
WHEELS = (
    "pyspark-3.5.6-py2.py3-none-any.whl",
    "py4j-0.10.9.7-py2.py3-none-any.whl",
    "numpy-2.0.2-cp39-cp39-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
)


def fake_pip(command: list[str], check: bool) -> subprocess.CompletedProcess:
    """Writes the wheels pip would have written into --wheel-dir / --dest."""
    option = "--wheel-dir" if "wheel" in command[3:4] else "--dest"
    into = Path(command[command.index(option) + 1])
    for name in WHEELS:
        if ("numpy" in name) == (option == "--dest"):
            (into / name).write_bytes(b"wheel")
    return subprocess.CompletedProcess(command, 0)


def test_numpy_is_downloaded_for_the_workstations_platform_and_python_never_built(tmp_path: Path) -> None:
    pyspark, numpy = wheelhouse.pip_commands(TARGET, tmp_path)
    assert pyspark[-1] == "pyspark==3.5.6" and "wheel" in pyspark
    assert numpy[numpy.index("--platform") + 1] == "manylinux2014_aarch64"
    assert numpy[numpy.index("--python-version") + 1] == "3.9" and numpy[numpy.index("--abi") + 1] == "cp39"
    assert "--only-binary=:all:" in numpy and numpy[-1] == "numpy<2.1"
    x86 = wheelhouse.pip_commands({**TARGET, "architecture": "x86_64"}, tmp_path)[1]
    assert x86[x86.index("--platform") + 1] == "manylinux2014_x86_64"


def test_the_index_pins_exactly_the_wheels_and_the_manifest_names_the_target(tmp_path: Path) -> None:
    for name in WHEELS:
        (tmp_path / name).write_bytes(b"wheel")
    manifest = wheelhouse.write_index(tmp_path, TARGET)
    assert (tmp_path / "requirements.txt").read_text().splitlines() == [
        "numpy==2.0.2",
        "py4j==0.10.9.7",
        "pyspark==3.5.6",
    ]
    assert {k: manifest[k] for k in TARGET} == TARGET and manifest["files"] == sorted(WHEELS)
    assert json.loads((tmp_path / "manifest.json").read_text()) == manifest
    assert wheelhouse.is_current(tmp_path, TARGET)
    assert not wheelhouse.is_current(tmp_path, {**TARGET, "pyspark": "3.5.5"})
    assert not wheelhouse.is_current(tmp_path / "missing", TARGET)


def test_a_placeholder_satisfies_synth_but_never_counts_as_built(tmp_path: Path) -> None:
    directory = wheelhouse.placeholder(tmp_path / "placeholder", TARGET)
    assert json.loads((directory / "manifest.json").read_text())["files"] == []
    assert not wheelhouse.is_current(directory, TARGET)


def run_main(monkeypatch, pip, *context: str) -> int:
    monkeypatch.setattr(wheelhouse.subprocess, "run", pip)
    return wheelhouse.main([arg for item in context for arg in ("-c", item)] + ["--if-needed"])


def never(command: list[str], check: bool) -> subprocess.CompletedProcess:
    raise AssertionError(f"pip was called: {command}")


def test_if_needed_does_nothing_and_says_nothing_in_the_public_mode(monkeypatch, tmp_path, capsys) -> None:
    assert run_main(monkeypatch, never, f"workstation_wheelhouse_dir={tmp_path}") == 0
    assert capsys.readouterr().out == ""
    assert not list(tmp_path.iterdir())


def test_if_needed_builds_once_then_keeps_a_current_wheelhouse(monkeypatch, tmp_path, capsys) -> None:
    directory = tmp_path / "wh"
    context = ("network_mode=isolated", f"workstation_wheelhouse_dir={directory}")
    assert run_main(monkeypatch, fake_pip, *context) == 0
    assert sorted(p.name for p in directory.glob("*.whl")) == sorted(WHEELS)
    assert wheelhouse.is_current(directory, TARGET)
    assert capsys.readouterr().out.startswith(f"wheelhouse: {directory}: ")  # what it built
    assert run_main(monkeypatch, never, *context) == 0
    assert capsys.readouterr().out == ""  # current: nothing to do, nothing said


def test_a_failed_build_leaves_the_previous_wheelhouse(monkeypatch, tmp_path, capsys) -> None:
    directory = wheelhouse.placeholder(tmp_path / "wh", TARGET)
    before = (directory / "manifest.json").read_text()

    def failing(command: list[str], check: bool) -> subprocess.CompletedProcess:
        raise subprocess.CalledProcessError(1, command)

    assert run_main(monkeypatch, failing, "network_mode=isolated", f"workstation_wheelhouse_dir={directory}") == 1
    assert (directory / "manifest.json").read_text() == before
    assert "pip failed" in capsys.readouterr().err


@pytest.mark.parametrize("item", ["network_mode=private", "not-a-pair"])
def test_bad_context_is_one_line_exit_2(monkeypatch, capsys, item) -> None:
    assert run_main(monkeypatch, never, item) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
