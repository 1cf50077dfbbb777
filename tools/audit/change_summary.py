"""The change in a few lines: what the terminal prints first and the report's first table, from the same rows.

One row per changed stack (the resources added, changed, replaced, removed and why), one for the stacks that do not
change, one per thing that would stop the deployment, the month's cost before and after beside the budget (a typical
month above the budget flagged), then each security area by name, changed or unchanged.
"""

from __future__ import annotations

from typing import Any

from tools.audit.security_areas import AREAS, WARNING

LABEL_WIDTH = 17
SHOWN = 3  # security changes the terminal names per area


def _usd(value: Any) -> str:
    return "no price" if value is None else f"USD {value:,.2f}"


def _pair(pair: list[Any]) -> str:
    before, after = pair
    return _usd(after) if before == after else f"{_usd(before)} → {_usd(after)}"


def cost_row(cost: dict[str, Any]) -> str:
    """``typical USD 6.93 → USD 9.94 ⚠️ over the USD 8.00 budget; worst case USD 153.87 → USD 211.37``."""
    typical, worst = cost["months"]["typical"], cost["months"]["worst"]
    budget = cost["budget_monthly_usd"]
    over = typical[1] is not None and budget[1] is not None and typical[1] > budget[1]
    beside = f"{WARNING} over the {_pair(budget)} budget" if over else f"(budget {_pair(budget)})"
    return f"typical {_pair(typical)} {beside}; worst case {_pair(worst)}"


def area_row(changes: list[str], limit: int | None = SHOWN) -> str:
    """``unchanged``, or ``changed:`` and what changed (at most ``limit`` items, the rest counted)."""
    if not changes:
        return "unchanged"
    shown = "; ".join(changes[:limit])
    more = f"; and {len(changes) - limit} more (reports/audit.md)" if limit is not None and len(changes) > limit else ""
    return f"changed: {shown}{more}"


def rows(change: dict[str, Any], limit: int | None = SHOWN) -> list[tuple[str, str]]:
    """(label, text) rows of the change summary; a base that could not be read gives one row saying so. The
    terminal names at most ``limit`` items per security area; the report all of them."""
    if change.get("error"):
        return [("no comparison", change["error"])]
    stacks = change["stacks"]
    found = [(entry["stack"], entry["summary"]) for entry in stacks if entry["status"] != "unchanged"]
    unchanged = [entry["stack"] for entry in stacks if entry["status"] == "unchanged"]
    if not found:
        found.append(("templates", "no change: every stack would deploy exactly as the base does"))
    elif unchanged:
        found.append(("no change", ", ".join(unchanged)))
    found += [(f"{WARNING} blocked", reason) for entry in stacks for reason in entry.get("blocked", [])]
    found.append(("cost a month", cost_row(change["cost"])))
    found += [(area, area_row(change["security"][area], limit)) for area in AREAS]
    return found


def terminal_lines(change: dict[str, Any]) -> list[str]:
    """The summary as the terminal shows it: a heading naming the base, then one aligned line per row."""
    return [f"audit: what changes against {change['base']}"] + [
        f"  {label:<{LABEL_WIDTH}} {text}" for label, text in rows(change)
    ]
