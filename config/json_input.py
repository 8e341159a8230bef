"""Reading JSON we did not write (request bodies, webhooks, upstream answers) without a 500.

Python's json recurses once per nesting level, so `[[[[…]]]]` a few thousand deep raises
RecursionError, which no caller expects from a parser. Here it is a ValueError like any other
malformed body, so every existing `except ValueError` handles it.
"""
import json
from typing import Any

# The API refuses bodies nested deeper (config.parsers); none needs more than a handful of levels.
MAX_DEPTH = 32


class JSONTooDeep(ValueError):
    pass


def loads(raw: bytes | str, **kwargs) -> Any:
    """json.loads that raises ValueError, never RecursionError, for hostile nesting."""
    try:
        return json.loads(raw, **kwargs)
    except RecursionError:
        raise JSONTooDeep("JSON is nested too deeply.") from None
