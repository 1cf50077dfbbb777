"""How the functions show a value from an event in a log line or a message."""

from __future__ import annotations

# repr() of an integer of over 4,300 digits raises ValueError, of a deeply nested list RecursionError. (A tuple
# constant: the functions are formatted for Python 3.14, whose unparenthesised `except A, B:` 3.11 cannot read.)
_UNSHOWABLE = (ValueError, RecursionError)


def shown(value: object, limit: int = 200) -> str:
    """A bounded text of any value from an event, for logs and messages: it never raises and never floods a log."""
    try:
        text = value if isinstance(value, str) else repr(value)
    except _UNSHOWABLE:
        text = f"<a {type(value).__name__} too large to show>"
    return text[:limit]
