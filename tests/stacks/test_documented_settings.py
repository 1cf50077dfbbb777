"""Every value README documents for a setting, and every command README shows, synthesises with cdk-nag on, as the
app runs it: a documented good value that stops synth is a broken promise (issue 21, defect 0: README's own
`make deploy CONTEXT=...` with an e-mail failed cdk-nag's Serverless-SNSRedrivePolicy before anything deployed).

The documented values are read from README, never copied: the settings table (each backticked value in a row's
default and allowed cells, each bound of an `a..b` range, each entry of a constant such as `EMR_INSTANCE_TYPES`, each
entry of another setting's documented list a cell points to) and every `-c key=value` of README's `make ...
CONTEXT="..."` and `npx cdk synth ...` commands. A value a cell says "needs `other_key`" is given that key's
documented example. Each value is validated alone (cheap); to keep within the test budget the synths (the slow
part) share values: each synth holds at most one value per key and only values that validate together, and each
README command synthesises exactly as written.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest

import stacks.settings as settings_module
from stacks.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
CDK_JSON_CONTEXT: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
SETTINGS = {field.name for field in dataclasses.fields(Settings)}

# Backticked words in the table that describe a value instead of being one; any other backticked word must be a
# value that validates, a setting's name, a repository path, a make command or a constant of stacks/settings.py.
DESCRIPTIONS = {
    "a-z0-9-": "the characters a project name may hold",
    "spark.*": "the property names spark_defaults takes",
    "spark-defaults": "the EMR configuration classification spark_defaults fills",
}


def settings_rows() -> list[tuple[list[str], str, str]]:
    """(keys, default cell, allowed cell) of each row of README's settings table."""
    section = re.search(r"^## Settings\n(.*?)(?=^## )", README, re.S | re.M)
    assert section, "README has no '## Settings' section"
    rows = []
    for line in section.group(1).splitlines():
        if line.startswith("| `"):
            keys_cell, default_cell, allowed_cell = line.split("|")[1:4]
            rows.append((re.findall(r"`([a-z0-9_]+)`", keys_cell), default_cell, allowed_cell))
    return rows


def readme_commands() -> list[dict[str, str]]:
    """The context of each command README shows: `make ... CONTEXT="-c k=v ..."` and `npx cdk synth|deploy -c ...`."""
    commands = re.findall(r'make \w[\w-]* CONTEXT="([^"]*)"', README)
    commands += re.findall(r"npx cdk (?:synth|deploy|diff)[^\n`]*?((?:-c \S+=\S+ ?)+)", README)
    parsed = [dict(re.findall(r"-c (\w+)=(\S+)", command)) for command in commands]
    return [command for command in parsed if command and set(command) <= SETTINGS]


def validates(context: dict[str, Any]) -> bool:
    merged = {**CDK_JSON_CONTEXT, **context}
    try:
        Settings.from_context(merged.get, keys=merged)
    except SettingsError:
        return False
    return True


def is_reference(token: str) -> bool:
    """A backticked word that names something (a setting, a file, a make command, a constant), not a value."""
    return (
        token in SETTINGS
        or token in DESCRIPTIONS
        or token.startswith("make ")
        or (ROOT / token).exists()
        or isinstance(getattr(settings_module, token, None), tuple)
    )


def _row_candidates(keys: list[str], cells: str, listed: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """Each key's candidate values in one row: backticked words, range bounds, both booleans, constants' and other
    settings' entries (a tuple-valued setting takes a constant as a whole: it is a list)."""
    defaults = Settings()
    candidates: dict[str, list[Any]] = {key: re.findall(r"`([^`]+)`", cells) for key in keys}
    ranges = re.findall(r"(\d+)\.\.(\d+)", cells)
    for index, key in enumerate(keys):
        if isinstance(getattr(defaults, key), bool):  # a true/false setting documents both by its type
            candidates[key] += ["true", "false"]
        if ranges:
            candidates[key] += list(ranges[min(index, len(ranges) - 1)])
        for token in re.findall(r"`([A-Z][A-Z0-9_]+)`", cells):
            constant = getattr(settings_module, token, None)
            if isinstance(constant, tuple):
                as_list = isinstance(getattr(defaults, key), tuple)
                candidates[key] += [",".join(constant)] if as_list else list(constant)
        for token in re.findall(r"`([a-z0-9_]+)`", cells):
            if token in SETTINGS and token != key and all(isinstance(v, tuple) for v in listed.get(token, [()])):
                candidates[key] += [entry for value in listed.get(token, []) for entry in value]
    return candidates


def _validates_with_needs(key: str, value: Any, needs: list[str], examples: dict[str, list[str]]) -> dict | None:
    """The context that sets ``key`` to ``value`` (with the examples of what its cell says it needs), if valid."""
    context = {key: value}
    if not validates(context):
        context |= {need: examples.get(need, ["?"])[0] for need in needs}
    return context if validates(context) else None


def documented_values() -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """Per key, each documented non-default value as the context that sets it (with what it "needs"), and the
    backticked words that are neither a valid value, a reference, nor another setting's value (the failures)."""
    examples: dict[str, list[str]] = {}
    for command in readme_commands():
        for key, value in command.items():
            examples.setdefault(key, []).append(value)
    listed = {"allowed_regions": [settings_module.UK_EU_REGIONS]}
    rows = [
        (keys, re.findall(r"needs `([a-z0-9_]+)`", cell), _row_candidates(keys, cell, listed))
        for keys, _, cell in settings_rows()
    ]
    for keys, _, candidates in rows:  # a key's documented examples: README's commands', then its row's values
        for key in keys:
            examples.setdefault(key, []).extend(v for v in candidates[key] if validates({key: v}))
    valid = {  # the values of the settings that refuse arbitrary words (choices, patterns)
        (key, value)
        for keys, needs, candidates in rows
        for key in keys
        if not validates({key: "zz-any-word"})
        for value in candidates[key]
        if _validates_with_needs(key, value, needs, examples)
    }
    found: dict[str, list[dict[str, Any]]] = {}
    refused: list[str] = []
    for keys, needs, candidates in rows:
        for key in keys:
            free_form = validates({key: "zz-any-word"})
            for value in [*candidates[key], *examples.get(key, [])]:
                # A word that names something, or is a choice setting's documented value ("`isolated` mode"), is a
                # value of this key only if the key refuses arbitrary words and accepts it.
                names_something = is_reference(value) or any((other, value) in valid for other in SETTINGS - {key})
                context = None if free_form and names_something else _validates_with_needs(key, value, needs, examples)
                if context is None:
                    if not names_something:
                        refused.append(f"{key}={value}")
                elif Settings.from_context({**CDK_JSON_CONTEXT, **context}.get) != Settings():
                    found.setdefault(key, [])
                    if context not in found[key]:
                        found[key].append(context)
    return found, refused


def shared_synths(found: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Contexts that together set every documented value: each value joins the first synth it validates with."""
    synths: list[dict[str, Any]] = []
    for values in found.values():
        for context in values:
            for shared in synths:
                if not set(context) & set(shared) and validates(shared | context):
                    shared.update(context)
                    break
            else:
                synths.append(dict(context))
    return synths


FOUND, REFUSED = documented_values()
SHARED_SYNTHS = shared_synths(FOUND)


def test_every_value_the_settings_table_documents_is_a_valid_value_or_names_something() -> None:
    assert REFUSED == [], "README documents these values, and the settings refuse them"


def test_the_table_and_commands_document_the_values_users_choose() -> None:
    """The parser finds what README promises (a parser that found nothing would make the synths below vacuous)."""
    assert {"stage", "network_mode", "cluster_mode", "notification_email", "budget_email"} <= set(FOUND)
    assert {"dev", "prod"} <= {c.get("stage") for c in FOUND["stage"]} | {"dev"}
    assert len(FOUND["emr_primary_instance_type"]) == len(settings_module.EMR_INSTANCE_TYPES) - 1
    assert len(FOUND["region"]) == len(settings_module.UK_EU_REGIONS) - 1
    assert {"1", "20"} <= {c["emr_core_instance_count"] for c in FOUND["emr_core_instance_count"]}
    assert len(readme_commands()) >= 3


def synthesises_with_nag(synth, context: dict[str, Any]) -> None:
    lab = synth(**context)  # raises on any unacknowledged cdk-nag finding, as `cdk synth` fails
    report = json.loads((lab.outdir / "validation-report.json").read_text())
    assert report["pluginReports"] == [], context


@pytest.mark.parametrize("command", readme_commands(), ids=lambda c: " ".join(f"-c {k}={v}" for k, v in c.items()))
def test_each_readme_command_synthesises_as_written(synth, command: dict[str, str]) -> None:
    synthesises_with_nag(synth, command)


@pytest.mark.parametrize("context", SHARED_SYNTHS, ids=lambda c: f"{len(c)} values")
def test_every_documented_value_synthesises(synth, context: dict[str, Any]) -> None:
    synthesises_with_nag(synth, context)


@pytest.mark.parametrize("region", settings_module.UK_EU_REGIONS)
def test_every_allowed_region_offers_every_resource_type_of_every_mode(synth, region: str) -> None:
    """ "CloudFormation resource provider schemas" (CloudFormation User Guide): resource availability varies by
    Region, and each Region's schemas say which types it offers (cfn-lint ships them). A region the settings allow
    must offer every type the documented values deploy (both network modes, both cluster modes, the e-mail's)."""
    from tools.audit.replacement import _providers

    offered = set(_providers(region))
    apps = [synth(**context) for context in SHARED_SYNTHS]  # both modes of each: synthesised above
    used = {
        resource["Type"]
        for app in apps
        for template in app.templates.values()
        for resource in template["Resources"].values()
        if not resource["Type"].startswith("Custom::")
    }
    assert sorted(used - offered) == [], f"{region} does not offer these resource types"


@pytest.mark.parametrize("region", settings_module.UK_EU_REGIONS)
def test_every_instance_type_the_settings_accept_is_offered_in_every_allowed_region(region: str) -> None:
    """EC2's DescribeInstanceTypeOfferings per Region, as moto ships it (captured from the AWS API): each EMR and
    workstation type the settings accept (m7g and t4g among them) is offered in each allowed Region, so no documented
    value fails at launch for want of the type. (Each EMR release's ListSupportedInstanceTypes:
    tests/audit/test_prices.py.)"""
    import gzip

    import moto

    path = Path(moto.__file__).parent / "ec2" / "resources" / "instance_type_offerings" / "region" / f"{region}.json.gz"
    offered = {offer["InstanceType"] for offer in json.loads(gzip.decompress(path.read_bytes()))}
    accepted = {
        *settings_module.EMR_INSTANCE_TYPES,
        *settings_module.WORKSTATION_INSTANCE_TYPES,
        *Settings().emr_task_instance_types,
    }
    assert sorted(accepted - offered) == []
