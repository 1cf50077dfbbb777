"""How a synthesised template is normalised before comparing it with a reviewed snapshot.

One definition, shared by the snapshot tests and ``tools/snapshots/diff.py``, so the two can never disagree about
what counts as a change. Only what legitimately varies between machines and dependency rebuilds is replaced:
64-hex asset hashes (Lambda code, the template asset itself) become ``ASSET_HASH``.
"""

from __future__ import annotations

import json
import re
from typing import Any

ASSET_HASH = re.compile(r"[0-9a-f]{64}")


def normalise_template(template: dict[str, Any]) -> dict[str, Any]:
    """Replaces what legitimately varies between machines and dependency rebuilds (asset hashes)."""
    return json.loads(ASSET_HASH.sub("ASSET_HASH", json.dumps(template, sort_keys=True)))
