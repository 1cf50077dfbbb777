"""How a synthesised template is normalised before comparing it with a reviewed snapshot.

One definition, shared by the snapshot tests and ``tools/snapshots/diff.py``, so the two can never disagree about
what counts as a change. Only what legitimately varies between machines and dependency rebuilds is replaced:
64-hex asset hashes (Lambda code, the job script, the template asset itself) become ``ASSET_HASH``. Because CDK
orders the resources of a merged IAM statement by their text, hashes included, a list of resources that names an
asset is sorted again once the hashes are gone: a changed job script must not reorder an unchanged policy.
"""

from __future__ import annotations

import json
import re
from typing import Any

ASSET_HASH = re.compile(r"[0-9a-f]{64}")
_PLACEHOLDER = "ASSET_HASH"


def normalise_template(template: dict[str, Any]) -> dict[str, Any]:
    """Replaces what legitimately varies between machines and dependency rebuilds (asset hashes)."""
    normalised = json.loads(ASSET_HASH.sub(_PLACEHOLDER, json.dumps(template, sort_keys=True)))
    for resource in (normalised.get("Resources") or {}).values():
        policy = (resource.get("Properties") or {}).get("PolicyDocument") or {}
        for statement in policy.get("Statement") or []:
            resources = statement.get("Resource")
            if isinstance(resources, list) and _PLACEHOLDER in json.dumps(resources):
                statement["Resource"] = sorted(resources, key=lambda item: json.dumps(item, sort_keys=True))
    return normalised
