"""Reading JSON we did not write (request bodies, webhooks, upstream answers) without a 500.

Python's json recurses once per nesting level, so `[[[[…]]]]` a few thousand deep raises
RecursionError, which no caller expects from a parser. Here it is a ValueError like any other
malformed body, so every existing `except ValueError` handles it.
"""
import json
from typing import Any

# Deeper than any document we accept or any gateway sends (theirs are 4-5 levels deep).
MAX_DEPTH = 32


class JSONTooDeep(ValueError):
    pass


def loads(raw: bytes | str, *, max_depth: int | None = None, **kwargs) -> Any:
    """json.loads that raises ValueError (never RecursionError) for hostile nesting, and, with
    max_depth, for any document nested deeper than that."""
    try:
        data = json.loads(raw, **kwargs)
    except RecursionError:
        raise JSONTooDeep("JSON is nested too deeply.") from None
    if max_depth is not None:
        check_depth(data, max_depth)
    return data


def check_depth(data: Any, max_depth: int = MAX_DEPTH) -> None:
    """Raise JSONTooDeep when lists/objects nest deeper than max_depth (iterative: no recursion)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            items = value.values()
        elif isinstance(value, list):
            items = value
        else:
            continue
        if depth > max_depth:
            raise JSONTooDeep(f"JSON is nested deeper than {max_depth} levels.")
        stack.extend((item, depth + 1) for item in items if isinstance(item, dict | list))
