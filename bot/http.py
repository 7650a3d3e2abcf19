"""Small helpers for routes."""
from __future__ import annotations

from flask import request
from werkzeug.routing import IntegerConverter

# SQLite and PostgreSQL integers end at 2**63 - 1 (ids at 2**31 - 1): a ?limit= or ?page= past
# that is an OverflowError in the driver, i.e. a 500, unless it is bounded first.
MAX_QUERY_INT = 2**31 - 1


def int_arg(name: str, default: int | None, *, low: int = 1, high: int = MAX_QUERY_INT) -> int | None:
    """A query-string integer kept within [low, high]; missing or not a number → ``default``."""
    value = request.args.get(name, type=int)
    if value is None:
        return default
    return max(low, min(high, value))


class RowIdConverter(IntegerConverter):
    """``<id:name>`` in a route: a database id, 1..2**31 - 1. A larger number in the URL matches
    no route (404), where ``<int:...>`` passed it on and PostgreSQL refused it (DataError, a
    500 from /staff/api/broadcasts/99999999999, found by tests/test_fuzz_endpoints.py)."""

    def __init__(self, url_map):
        super().__init__(url_map, min=1, max=MAX_QUERY_INT)
