"""The pre-commit hooks run exactly the parts of `make lint`, through the same make targets."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
MAKEFILE = (ROOT / "Makefile").read_text()


def lint_parts() -> list[str]:
    match = re.search(r"^lint: (?P<parts>.+)$", MAKEFILE, re.M)
    assert match, "Makefile has no lint target with prerequisites"
    return match["parts"].split()


def hook_targets() -> list[str]:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    (local,) = config["repos"]
    assert local["repo"] == "local"
    targets = []
    for hook in local["hooks"]:
        assert hook["language"] == "system" and hook["pass_filenames"] is False, hook["id"]
        make, flag, target = hook["entry"].split()
        assert (make, flag) == ("make", "--no-print-directory"), hook["entry"]
        targets.append(target)
    return targets


def test_every_part_of_make_lint_is_a_hook_and_nothing_else() -> None:
    assert sorted(hook_targets()) == sorted(lint_parts())


def test_make_lint_is_only_its_parts_and_each_part_is_a_target_with_a_recipe() -> None:
    lint_recipe = re.search(r"^lint: .+\n(?P<recipe>(?:\t.*\n)*)", MAKEFILE, re.M)
    assert lint_recipe and lint_recipe["recipe"] == "", "make lint must run its parts only (the hooks mirror them)"
    for part in lint_parts():
        recipe = re.search(rf"^{re.escape(part)}: .*\n(?P<first>\t.+)", MAKEFILE, re.M)
        assert recipe, f"{part} has no recipe"
