"""The four security areas a reviewer asks about, compared between the base and the change, each by name.

* **IAM**: what each role may do (its statements, trusted principals and managed policies) and every resource-based
  policy (bucket, topic, queue and key policies, Lambda permissions);
* **network exposure**: security group ingress rules and whatever gives or routes public addresses;
* **encryption**: at rest and in transit, per data store;
* **audit exceptions**: the cdk-nag acknowledgements, cfn-lint ignores and checkov skips recorded in the templates.

Each area is "unchanged" or lists what changed, from the same analyses the report's full state shows
(``tools/audit/iam.py``, ``network.py``, ``encryption.py`` and the scanners' exception readers). Wide grants and
rules open to the internet that a change adds are marked ⚠️.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

AREAS = ("IAM", "network exposure", "encryption", "audit exceptions")
WARNING = "⚠️"


def _short(path: str) -> str:
    """A construct path without CDK's ``/Resource`` leaf: ``Automation/Jobs/SubmitJob/ServiceRole``."""
    return path.removesuffix("/Resource").removesuffix("/Default")


def _statement(row: dict[str, Any]) -> str:
    """One IAM statement as comparable text (where it comes from left out: moving it does not change a grant)."""
    fields = ("effect", "principals", "actions", "not_actions", "resources", "not_resources", "condition")
    return json.dumps({key: row.get(key) for key in fields}, sort_keys=True)


def _grants(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Role or resource policy -> its statements (text -> the statement) and, for a role, who may assume it."""
    found = {}
    for role in data.get("iam", []):
        found[_short(role["path"])] = {
            "what": "role",
            "statements": {_statement(s): s for s in role["statements"]},
            "trust": sorted(role["trusted"]) + sorted(f"managed policy {arn}" for arn in role["managed_policy_arns"]),
        }
    for policy in data.get("resource_policies", []):
        found[_short(policy["path"])] = {
            "what": policy["kind"].split("::")[-1],
            "statements": {_statement(s): s for s in policy["statements"]},
            "trust": [],
        }
    return found


def _wide(statements: list[dict[str, Any]]) -> str:
    flags = sorted({flag for statement in statements for flag in statement.get("flags", [])})
    return f" ({WARNING} {', '.join(flags)})" if flags else ""


def iam_changes(current: dict[str, Any], base: dict[str, Any]) -> list[str]:
    """``Automation/Jobs/EmrEvents/ServiceRole: +1 statement (⚠️ action s3:*, resource *)``, one per grant changed."""
    after, before = _grants(current), _grants(base)
    changes = []
    for name in sorted(after.keys() | before.keys()):
        new, old = after.get(name), before.get(name)
        if new is None or old is None:
            present = new or old or {}
            sign = "new" if new else "removed"
            changes.append(
                f"{sign} {present['what']} {name}" + (_wide(list(present["statements"].values())) if new else "")
            )
            continue
        added = [new["statements"][key] for key in new["statements"].keys() - old["statements"].keys()]
        removed = len(old["statements"].keys() - new["statements"].keys())
        parts = [f"+{len(added)} statement(s){_wide(added)}"] * bool(added) + [f"-{removed} statement(s)"] * bool(
            removed
        )
        if new["trust"] != old["trust"]:
            parts.append("who may assume it or its managed policies changed")
        if parts:
            changes.append(f"{name}: {', '.join(parts)}")
    return changes


def _exposure(data: dict[str, Any]) -> dict[str, bool]:
    """Each ingress rule and public path as text -> whether it admits the internet."""
    network = data.get("network") or {"ingress": [], "public": []}
    found = {
        f"{_short(rule['path'])} admits {rule['ports']} from {rule['source']}": rule["from_internet"]
        for rule in network["ingress"]
    }
    found |= {f"{_short(item['path'])}: {item['what']}": False for item in network["public"]}
    return found


def network_changes(current: dict[str, Any], base: dict[str, Any]) -> list[str]:
    after, before = _exposure(current), _exposure(base)
    added = [
        f"+ {text}" + (f" {WARNING} from the internet" if after[text] else "")
        for text in sorted(after.keys() - before.keys())
    ]
    return added + [f"- {text}" for text in sorted(before.keys() - after.keys())]


def _stores(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {_short(row["path"]): row for row in data.get("encryption", [])}


def encryption_changes(current: dict[str, Any], base: dict[str, Any]) -> list[str]:
    after, before = _stores(current), _stores(base)
    changes = []
    for name in sorted(after.keys() | before.keys()):
        new, old = after.get(name), before.get(name)
        if new is None:
            changes.append(f"- {name} ({old['store'] if old else '?'})")
        elif old is None:
            flag = "" if new["ok"] else f" {WARNING}"
            changes.append(f"+ {name} ({new['store']}): at rest {new['at_rest']}; in transit {new['in_transit']}{flag}")
        else:
            for side in ("at_rest", "in_transit"):
                if new[side] != old[side]:
                    flag = f" {WARNING}" if old["ok"] and not new["ok"] else ""
                    changes.append(f"{name}: {side.replace('_', ' ')} {old[side]} → {new[side]}{flag}")
    return changes


def _exceptions(data: dict[str, Any]) -> dict[tuple[str, str, str], set[str]]:
    """(tool, rule, reason) -> the construct paths it is recorded on."""
    found: dict[tuple[str, str, str], set[str]] = {}
    for items in (data.get("acknowledged") or {}).values():
        for item in items:
            found.setdefault((item["tool"], item["rule"], item.get("reason") or ""), set()).add(_short(item["path"]))
    return found


def exception_changes(current: dict[str, Any], base: dict[str, Any]) -> list[str]:
    """``+ checkov CKV_AWS_999 on Compute/Workstation/Instance: "reason"``; a reason rewritten shows as - and +."""
    after, before = _exceptions(current), _exceptions(base)
    changes = []
    for sign, ours, theirs in (("+", after, before), ("-", before, after)):
        for (tool, rule, reason), paths in sorted(ours.items()):
            gone = sorted(paths - theirs.get((tool, rule, reason), set()))
            if gone:
                where = gone[0] if len(gone) == 1 else f"{len(gone)} resources ({gone[0]}, …)"
                changes.append(f"{sign} {tool} {rule} on {where}: {reason!r}")
    return changes


COMPARISONS: dict[str, Callable[[dict[str, Any], dict[str, Any]], list[str]]] = {
    "IAM": iam_changes,
    "network exposure": network_changes,
    "encryption": encryption_changes,
    "audit exceptions": exception_changes,
}


def compare(current: dict[str, Any], base: dict[str, Any]) -> dict[str, list[str]]:
    """Per area, in ``AREAS`` order, what changed (an empty list: unchanged)."""
    return {area: COMPARISONS[area](current, base) for area in AREAS}
