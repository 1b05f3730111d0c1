"""Contract keys the stand-in's truth leaves out where its pages do not state them.

No stand-in page is read by the structured-data fallback (`fallback` false), and a page that shows no title
status, fuel or card details (an index card's VIN, stock number, odometer, place) has none: tests compare
a parse with `with_defaults(truth)`.
"""

from __future__ import annotations

LISTING_DEFAULTS = {"fallback": False, "title_status": None, "fuel": None}
INDEX_DEFAULTS = {"fallback": False}
ITEM_DEFAULTS = {"location": None, "mileage": None, "mileage_unit": None, "vin": None, "stock_number": None}


def with_defaults(expected: dict) -> dict:
    if not isinstance(expected, dict):
        return expected
    if expected.get("kind") == "listing":
        return LISTING_DEFAULTS | expected
    if expected.get("kind") == "index":
        return INDEX_DEFAULTS | expected | {"items": [ITEM_DEFAULTS | item for item in expected.get("items", [])]}
    return expected
