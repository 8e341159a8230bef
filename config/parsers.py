"""The API's JSON parser. Its own module: DRF imports parsers while it loads
rest_framework.views, so this must not import anything that imports views."""
from rest_framework import exceptions
from rest_framework.parsers import JSONParser

from config.json_input import MAX_DEPTH


class StrictJSONParser(JSONParser):
    """JSON that the database can store: no lone surrogates, no NUL characters, no deep nesting.

    Python's json accepts "\\ud800" and "\\u0000"; PostgreSQL refuses both, which
    would surface as a 500 deep inside a service. Refuse them here as malformed input.
    json recurses per nesting level, so `[[[…]]]` thousands deep raises RecursionError:
    that, and anything nested deeper than any API body needs, is malformed input too.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(f"JSON is nested deeper than {MAX_DEPTH} levels.") from None
        _check(data)
        return data


def _check(data) -> None:
    """One iterative walk (no recursion): every string storable, nesting at most MAX_DEPTH."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            _check_string(value)
            continue
        if isinstance(value, dict):
            stack.extend((key, depth) for key in value)
            items = value.values()
        elif isinstance(value, list):
            items = value
        else:
            continue
        if depth > MAX_DEPTH:
            raise exceptions.ParseError(f"JSON is nested deeper than {MAX_DEPTH} levels.")
        stack.extend((item, depth + 1) for item in items)


def _check_string(value: str) -> None:
    if "\x00" in value:
        raise exceptions.ParseError("Strings must not contain NUL characters.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise exceptions.ParseError("Strings must be valid Unicode (no lone surrogates).") from None
