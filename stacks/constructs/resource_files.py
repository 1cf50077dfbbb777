"""Files the constructs ship (scripts, units) kept beside them in ``stacks/constructs/resources/``, where linters
read them, and filled in at synth time.

A file names each value it needs as ``@NAME@`` (the autoconf convention): to shellcheck and systemd a placeholder is
a plain word, so the files are checked as they are.
"""

from __future__ import annotations

import re
from pathlib import Path

RESOURCES = Path(__file__).resolve().parent / "resources"
_PLACEHOLDER = re.compile(r"@([A-Z][A-Z0-9_]*)@")


def render(relative_path: str, **values: str) -> str:
    """The text of ``resources/<relative_path>`` without its final newline, each ``@NAME@`` replaced by
    ``values[NAME]``. One pass: text a value brings in is never searched for placeholders, so a rendered file can be
    a value of another.

    ValueError when the file has a placeholder with no value, or a value has no placeholder (a misspelt name)."""
    text = (RESOURCES / relative_path).read_text()
    text = text.removesuffix("\n")
    named = set(_PLACEHOLDER.findall(text))
    missing, unused = sorted(named - set(values)), sorted(set(values) - named)
    if missing or unused:
        raise ValueError(
            f"{relative_path}: placeholders without a value {missing}, values without a placeholder {unused}"
        )
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], text)
