"""Renders the audit data (the same dict written to audit.json) as GitHub-flavoured Markdown."""

from __future__ import annotations

import json
from typing import Any

from tools.audit import change_summary


def _text(value: Any) -> str:
    """Plain text for a table cell: Markdown and HTML specials escaped; lists one item a line."""
    if value is None:
        return ""
    if isinstance(value, list):
        return "<br>".join(_text(item) for item in value)
    text = str(value).replace("\n", " ").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # `$` too: GitHub renders text between two dollars as maths.
    return text.replace("|", "\\|").replace("*", "\\*").replace("_", "\\_").replace("$", "\\$")


def _code(value: Any) -> str:
    """Code spans (one per list item) for identifiers, ARNs, actions and paths."""
    if value is None or value in ("", []):
        return ""
    if isinstance(value, list):
        return "<br>".join(_code(item) for item in value)
    return "`" + str(value).replace("\n", " ").replace("`", "'").replace("|", "\\|") + "`"


def table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    """A GFM table of already-rendered cells (use _text / _code); numbers are shown as they are."""
    if not rows:
        return ["_none_", ""]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join("" if cell is None else str(cell) for cell in row) + " |" for row in rows]
    return [*lines, ""]


def _cells(item: dict[str, Any], keys: str, *, code: str = "") -> list[str]:
    """The cells of ``item`` for the space-separated ``keys``, in order: those also in ``code`` as code, others as
    text."""
    as_code = set(code.split())
    return [_code(item[key]) if key in as_code else _text(item[key]) for key in keys.split()]


def _warn(flag: Any, shown: str = "⚠️", otherwise: str = "") -> str:
    return shown if flag else otherwise


def _role_tail(role: dict[str, Any]) -> list[str]:
    return [_code(role["managed_policy_arns"]), _warn(role["wide"])]


def _paths(paths: list[str]) -> str:
    """Construct paths for a table cell: collapsed when there are many."""
    cells = _code(paths)
    if len(paths) <= 3:
        return cells
    return f"<details><summary>{len(paths)} resources</summary>{cells}</details>"


def _details(summary: str, body: list[str]) -> list[str]:
    return ["<details>", f"<summary>{summary}</summary>", "", *body, "</details>", ""]


def _money(value: Any) -> str:
    return "no price" if value is None else f"USD {value:,.2f}"


def _number(value: Any) -> str:
    return "none" if value is None else f"{value:g}"


def _cents(value: Any) -> str:
    return "n/a" if value is None else f"USD {value:,.3f}"


def _before_after(pair: list[Any], render: Any = _money) -> str:
    """``USD 1.00 → USD 3.50 (+USD 2.50)``, or the one value when nothing changed."""
    before, after = pair
    if before == after:
        return render(after)
    delta = ""
    if isinstance(before, (int, float)) and isinstance(after, (int, float)):
        delta = f" ({'+' if after >= before else '-'}{render(abs(after - before))})"
    return f"{render(before)} → {render(after)}{delta}"


def _change_section(changes: dict[str, Any]) -> list[str]:
    """The terminal's change summary as a table, then per changed stack the resources CloudFormation touches and
    CDK's diff, then the priced lines and findings that change: a reviewer's first read."""
    out = [f"## What this change does, against {_code(changes['base'])}", ""]
    out += table(
        ["", "What changes"],
        [[f"**{_text(label)}**", _text(text)] for label, text in change_summary.rows(changes, limit=None)],
    )
    if changes.get("error"):
        return out
    out += [
        "Replaced or changed in place as the CloudFormation resource schemas say (their create-only properties), "
        'not as CDK\'s cautious "may be replaced": `docs/audit.md`, *The change first*.',
        "",
    ]
    for stack in changes["stacks"]:
        if stack["status"] != "unchanged":
            out += _stack_change(stack)
    if changes.get("diff_error"):
        out += [f"⚠️ {_text(changes['diff_error'])}", ""]
    out += _cost_lines(changes["cost"])
    out += _finding_rows(changes.get("findings"))
    return out


def _stack_change(stack: dict[str, Any]) -> list[str]:
    """One changed stack: each resource touched, with what CloudFormation does and why, then CDK's diff."""
    out = [f"### {_code(stack['stack'])} ({_code(stack['stack_name'])}): {_text(stack['status'])}", ""]
    out += (
        table(
            ["Resource", "Type", "CloudFormation", "Why"],
            [
                [
                    _code(item["path"]),
                    _code(item["resource_type"]),
                    ("⚠️ " if item["action"] in ("replaced", "may be replaced", "removed") else "")
                    + _text(item["action"]),
                    _text(list(item["reasons"]) or [", ".join(item["properties"])]),
                ]
                for item in stack["resources"]
            ],
        )
        if stack["resources"]
        else []
    )
    out += [f"⚠️ **Blocked:** {_text(reason)}" for reason in stack["blocked"]] + ([""] if stack["blocked"] else [])
    if stack["diff"]:
        out += ["```text", stack["diff"], "```", ""]
    return out


def _cost_lines(cost: dict[str, Any]) -> list[str]:
    jobs = ", ".join(f"{label} {_before_after(pair, _cents)}" for label, pair in cost["jobs"].items())
    idle = _before_after(cost["months"]["idle"])
    out = [f"**Idle month:** {idle}. **One job:** {jobs}.", ""]
    if cost["lines"]:
        out += table(
            ["Priced line", "What", "Unit", "USD"],
            [
                [
                    _text(line["line"]),
                    _before_after(line["what"], _text),
                    line["unit"],
                    _before_after(line["usd"], _number),
                ]
                for line in cost["lines"]
            ],
        )
    return out


def _finding_rows(findings: dict[str, Any] | None) -> list[str]:
    """Blocking findings, exceptions and cfn-lint warnings the change adds, removes or rewords."""
    if not findings or not findings["rows"]:
        return []
    groups: dict[tuple[str, ...], list[str]] = {}
    for row in findings["rows"]:
        key = (row["change"], row["kind"], row["tool"], row["rule"], row["stack"], row["detail"])
        groups.setdefault(key, []).append(row["path"])
    rows = [
        [_text(change), _text(kind), _text(tool), _code(rule), _text(stack), _paths(paths), _text(detail)]
        for (change, kind, tool, rule, stack, detail), paths in groups.items()
    ]
    headers = ["Change", "What", "Tool", "Rule", "Stack", "Construct paths", "Reason / message"]
    return ["**Findings that change:**", "", *table(headers, rows)]


def render_markdown(data: dict[str, Any]) -> str:
    """The report: verdict, the change against the base (when given), the checks, then the full state."""
    out: list[str] = []
    blocking = data["blocking"]
    verdict = (
        "✅ **PASS**: no blocking finding" if not blocking else f"❌ **FAIL**: {len(blocking)} blocking finding(s)"
    )
    out += ["# Infrastructure audit", "", verdict, ""]
    if "changes" in data:
        out += _change_section(data["changes"])
    names = ", ".join(_code(stack["name"]) for stack in data["stacks"])
    out += [
        "## Checks",
        "",
        f"Cloud assembly: {_code(data['cdk_out'])}; stacks: {names}. "
        "How to read this report: `docs/audit.md` in the repository.",
        "",
    ]
    out += table(
        ["Check", "Blocking?", "Result"],
        [[_text(row["check"]), _text(row["blocking"]), _text(row["result"])] for row in data["checks"]],
    )

    if blocking:
        out += ["## Blocking findings", ""]
        out += table(
            ["Tool", "Rule", "Stack", "Construct path", "Message"],
            [
                [_text(f["tool"]), _code(f["rule"]), _text(f["stack"]), _code(f["path"]), _text(f["message"])]
                for f in blocking
            ],
        )
    state = _full_state(data)
    if "changes" in data:
        return "\n".join(
            [
                *out,
                *_details(
                    "<b>The full audit of this change</b>: resources, exceptions, IAM, network, encryption, cost, architecture",
                    state,
                ),
            ]
        )
    return "\n".join([*out, *state])


def _full_state(data: dict[str, Any]) -> list[str]:
    """Everything the assembly is: resources, exceptions, informational findings, IAM, network, encryption, cost,
    architecture."""
    return [
        *_stacks_section(data),
        *_acknowledged_section(data),
        *_informational_section(data),
        *_iam_section(data),
        *_network_section(data),
        *_encryption_section(data),
        *cost_section(data["cost"]),
        *_architecture_section(data),
    ]


def _stacks_section(data: dict[str, Any]) -> list[str]:
    """Resource count by type, per stack."""
    out: list[str] = []
    out += ["## Stacks and resources", ""]
    for stack in data["stacks"]:
        out += [f"### {_code(stack['name'])} ({stack['resource_count']} resources, {_code(stack['template'])})", ""]
        out += table(
            ["Resource type", "Count"], [[_code(kind), count] for kind, count in stack["resources_by_type"].items()]
        )
    return out


def _acknowledged_section(data: dict[str, Any]) -> list[str]:
    """Every exception of the three tools, grouped by rule, stack and reason."""
    out: list[str] = []
    out += [
        "## Acknowledged findings",
        "",
        "Each exception names one rule, the constructs it covers and the reason recorded in the template beside "
        "it. CDK writes an acknowledgement onto every resource under the acknowledged construct, so one reason "
        "can cover several resources (the JSON report lists each one).",
        "",
    ]
    titles = {
        "cdk-nag": "cdk-nag and CDK validation acknowledgements",
        "cfn-lint": "cfn-lint ignores",
        "checkov": "checkov skips",
    }
    for tool, items in data["acknowledged"].items():
        groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        for item in items:
            groups.setdefault((item["rule"], item["stack"], item["reason"]), []).append(item)
        out += [f"### {titles.get(tool, tool)} ({len(items)} on resources, {len(groups)} distinct)", ""]
        rows = []
        for (rule, stack, reason), members in groups.items():
            warning = ""
            if any(member.get("honoured") is False for member in members):
                warning = " ⚠️ <b>not honoured by checkov: check the id</b>"
            rows.append(
                [_code(rule), _text(stack), _paths([member["path"] for member in members]), _text(reason) + warning]
            )
        out += table(["Rule", "Stack", "Construct paths", "Reason"], rows)
    return out


def _informational_section(data: dict[str, Any]) -> list[str]:
    """The HIPAA / NIST packs, cfn-lint warnings and checkov's counts: nothing here blocks."""
    out: list[str] = []
    info = data["informational"]
    out += ["## Informational (not blocking)", ""]
    compliance = info["compliance"]
    if not compliance["ran"]:
        out += [f"HIPAA Security / NIST 800-53 rev5: **not run** ({_text(compliance.get('error') or 'skipped')}).", ""]
    else:
        if compliance["templates_match_cdk_out"] is False:
            out += [
                "> ⚠️ The templates re-synthesised for these packs differ from cdk.out: cdk.out was probably "
                "synthesised with other context (`-c`); pass the same `-c key=value` to `tools.audit`.",
                "",
            ]
        for pack, rules in compliance["packs"].items():
            total = sum(rule["count"] for rule in rules.values())
            out += [f"### cdk-nag {pack}: {total} finding(s) in {len(rules)} rule(s), informational", ""]
            out += table(
                ["Rule", "Findings", "Description"],
                [[_code(name), rule["count"], _text(rule["description"])] for name, rule in rules.items()],
            )
    out += [f"### cfn-lint warnings and informational matches ({len(info['cfn_lint'])})", ""]
    out += table(
        ["Rule", "Level", "Stack", "Construct path", "Message"],
        [_cells(f, "rule level stack path message", code="rule path") for f in info["cfn_lint"]],
    )
    checkov = data["checkov"]
    if checkov:
        out += [
            f"checkov: {checkov.get('passed', 0)} passed, {checkov.get('failed', 0)} failed, "
            f"{checkov.get('skipped', 0)} skipped by template Metadata.",
            "",
        ]
    return out


def _iam_section(data: dict[str, Any]) -> list[str]:
    """Each role: who may assume it, its statements (folded); then the resource-based policies."""
    out: list[str] = []
    out += [
        "## IAM: what each role may do",
        "",
        "⚠️ marks a wide grant: action `*` or `service:*`, `NotAction`, resource `*` (Allow statements), or a "
        "broad AWS managed policy. `${Logical.Arn}` refers to a resource of the same template, `import:<name>` "
        "to an export of another stack.",
        "",
    ]
    out += table(
        ["Role", "Stack", "Trusted by", "Statements", "Managed policies", "Wide?"],
        [
            [*_cells(r, "path stack trusted", code="path trusted"), len(r["statements"]), *_role_tail(r)]
            for r in data["iam"]
        ],
    )
    for role in data["iam"]:
        rows = [
            [
                _text(s["effect"]),
                _code(s["actions"] or [f"NOT {a}" for a in s["not_actions"]]),
                _code(s["resources"] or [f"NOT {r}" for r in s["not_resources"]]),
                _code(json.dumps(s["condition"], sort_keys=True)) if s["condition"] else "",
                "⚠️ " + _text(", ".join(s["flags"])) if s["flags"] else "",
                _text(s["source"]),
            ]
            for s in role["statements"]
        ]
        if rows:
            out += _details(
                f"<code>{_text(role['path'])}</code>: {len(rows)} statement(s)" + (" ⚠️" if role["wide"] else ""),
                table(["Effect", "Actions", "Resources", "Condition", "Flags", "From"], rows),
            )
    policies = data.get("resource_policies", [])
    out += ["### Resource-based policies: who else may act on a resource", ""]
    out += table(
        ["Policy", "Stack", "Kind", "Principals", "Statements", "Wide?"],
        [
            [
                _code(p["path"]),
                _text(p["stack"]),
                _code(p["kind"]),
                _code(sorted(set(p["principals"]))),
                len(p["statements"]),
                _warn(p["wide"]),
            ]
            for p in policies
        ],
    )
    return out


def _network_section(data: dict[str, Any]) -> list[str]:
    """Ingress rules, then public addresses and internet paths."""
    out: list[str] = []
    network = data["network"]
    out += ["## Network exposure", "", "### Security group ingress rules", ""]
    out += table(
        ["Security group / rule", "Stack", "Ports", "Source", "Description", "From internet?"],
        [
            [
                *_cells(r, "path stack ports source description", code="path source"),
                _warn(r["from_internet"], "⚠️ yes", "no"),
            ]
            for r in network["ingress"]
        ],
    )
    out += ["### Public addresses and internet paths", ""]
    out += table(
        ["What", "Stack", "Construct path"], [_cells(p, "what stack path", code="path") for p in network["public"]]
    )
    return out


def _encryption_section(data: dict[str, Any]) -> list[str]:
    """At rest and in transit, per data store."""
    out: list[str] = []
    out += ["## Encryption per data store", ""]
    out += table(
        ["Store", "Stack", "Construct path", "At rest", "In transit", ""],
        [
            [*_cells(e, "store stack path at_rest in_transit", code="path"), _warn(not e["ok"])]
            for e in data["encryption"]
        ],
    )
    return out


def _architecture_section(data: dict[str, Any]) -> list[str]:
    """The generated diagrams: the architecture, and the network of the audited mode."""
    out: list[str] = []
    out += ["## Architecture (generated from the templates)", "", "```mermaid", data["diagram"], "```", ""]
    if data.get("network_diagram"):
        out += [
            "The network: what runs in the VPC and every way out of it.",
            "",
            "```mermaid",
            data["network_diagram"],
            "```",
            "",
        ]
    return out


def cost_section(cost: dict[str, Any]) -> list[str]:
    """The report's cost section: the three months, one job at three sizes, and what each figure is made of."""
    verified = (
        "verified against the AWS Price List"
        if cost["prices_verified"]
        else "**not verified** against the AWS Price List"
    )
    out = [
        "## Cost (estimate)",
        "",
        f"Network mode `{cost['network_mode']}`. Prices: `tools/prices.json`, region `{cost['region']}`, as of "
        f"**{cost['prices_as_of']}**, {verified}; on-demand USD.",
        "",
    ]
    months = cost["months"]
    out += table(
        ["Month", "USD", "Made of"],
        [
            [name, f"{month['usd']:.2f}", _text([f"{part['what']}: {part['usd']:.2f}" for part in month["parts"]])]
            for name, month in months.items()
        ],
    )
    over = " ⚠️ the typical month is above it" if cost["over_budget"] else " (above the typical month)"
    out += [f"Budget `budget_monthly_usd` = USD {cost['budget_monthly_usd']}{over}.", ""]
    out += table(
        ["One job", "MB", "Cluster", "Billed min", "USD", "Formula"],
        [
            [
                label,
                job["megabytes"],
                _text(job["shape"]),
                job["billed_minutes"],
                f"{job['usd']:.3f}",
                _text(job["formula"]),
            ]
            for label, job in cost["jobs"].items()
        ],
    )
    out += table(
        ["Billed while running", "USD/hour", "Formula", "When"],
        [[_text(i["what"]), i["hourly"], _text(i["formula"]), _text(i["when"])] for i in cost["items"]],
    )
    out += table(
        ["Billed while deployed", "USD/month", "Formula"],
        [[_text(i["what"]), f"{i['monthly']:.2f}", _text(i["formula"])] for i in cost["standing"]],
    )
    if cost["unknown_prices"]:
        out += [f"⚠️ No price in tools/prices.json for: {_text(', '.join(cost['unknown_prices']))}.", ""]
    out += ["Assumptions:", ""]
    out += [f"- {_text(line)}" for line in cost["assumptions"]]
    out += [
        f"- For comparison, a NAT gateway would cost USD {cost['nat_comparison_month_per_az']:.2f} a month per AZ "
        "before data processing.",
        "",
    ]
    return out
