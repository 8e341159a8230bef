"""The base of every refused service operation, so the API's error handler (config.api) can answer
them without importing the apps above it."""


class DomainError(Exception):
    """A refused operation. Subclasses set `code` and `http_status`; `user_message` is safe to show."""

    code = "error"
    http_status = 409
    user_message = ""
