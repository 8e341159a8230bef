"""Sortable column headers: a link per whitelisted column that keeps the other filters."""
from __future__ import annotations


def sort_links(request, current: str, columns) -> dict[str, dict[str, str]]:
    """{column: {"url": "?…&sort=-amount", "arrow": " ▲"}}; clicking the sorted column flips it."""
    links = {}
    for column in columns:
        params = request.GET.copy()
        params.pop("page", None)
        params.pop("export", None)
        active = current.lstrip("-") == column
        descending = current.startswith("-")
        params["sort"] = column if active and descending else f"-{column}"
        arrow = (" ▼" if descending else " ▲") if active else ""
        links[column] = {"url": "?" + params.urlencode(), "arrow": arrow}
    return links
