"""The API's JSON parser. Its own module: DRF imports parsers while it loads
rest_framework.views, so this must not import anything that imports views."""
from rest_framework import exceptions
from rest_framework.parsers import JSONParser


class StrictJSONParser(JSONParser):
    """JSON that the database can store: no lone surrogates, no NUL characters.

    Python's json accepts "\\ud800" and "\\u0000"; PostgreSQL refuses both, which
    would surface as a 500 deep inside a service. Refuse them here as malformed input.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        _check_strings(data)
        return data


def _check_strings(value) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key)
            _check_strings(item)
    elif isinstance(value, list):
        for item in value:
            _check_strings(item)
    elif isinstance(value, str):
        if "\x00" in value:
            raise exceptions.ParseError("Strings must not contain NUL characters.")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise exceptions.ParseError("Strings must be valid Unicode (no lone surrogates).") from None
