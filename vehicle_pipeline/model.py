"""The normalized records every source produces.

Pure data: no I/O, no Dagster, no database. Parsers return these; the store persists them; the
`parse` command prints them through `to_contract()`, whose key names are a published contract
(see README, "parse contract").
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import StrEnum


class Outcome(StrEnum):
    SOLD = "sold"
    SOLD_AFTER = "sold_after"  # deal struck after the auction ended
    BID_TO = "bid_to"  # ended, reserve not met; the figure is the high bid
    NO_SALE = "no_sale"  # ended, not sold, no meaningful bid
    WITHDRAWN = "withdrawn"
    LIVE = "live"
    UNKNOWN = "unknown"


SALE_OUTCOMES = frozenset({Outcome.SOLD, Outcome.SOLD_AFTER})
ENDED_OUTCOMES = frozenset({Outcome.SOLD, Outcome.SOLD_AFTER, Outcome.BID_TO, Outcome.NO_SALE, Outcome.WITHDRAWN})
# What a fallback parse may say about an auction: nothing (None for classifieds, "unknown" for auctions).
FALLBACK_OUTCOMES = frozenset({None, Outcome.UNKNOWN})


class VinState(StrEnum):
    VALID = "valid"
    BAD_CHECK_DIGIT = "bad_check_digit"
    NOT_APPLICABLE = "not_applicable"  # pre-1981 chassis numbers, many non-North-American VINs


class CommentKind(StrEnum):
    COMMENT = "comment"
    BID = "bid"
    SYSTEM = "system"  # the closing message ("Sold on … to …", "Reserve not met on …")


class ParseError(ValueError):
    """A page the parser cannot read. The message names the source, the page and what was missing."""

    def __init__(self, source: str, page: str, missing: str):
        self.source = source
        self.page = page
        self.missing = missing
        super().__init__(f"{source}: cannot parse {page}: {missing}")

    def __reduce__(self):
        # Rebuilt from its fields, not from the message (the default), so it crosses a process pool intact.
        return type(self), (self.source, self.page, self.missing)


class NeedsBrowser(ParseError):
    """A page whose content is built by its own script (an HTML shell): only the rendering fetcher can read
    it, so the source must be configured to render (`IngestSettings.render_sources`)."""

    def __init__(self, source: str, page: str, what: str):
        self.what = what
        super().__init__(source, page, f"needs a browser: {what}")

    def __reduce__(self):
        return type(self), (self.source, self.page, self.what)


def _iso_utc(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime in a record; parsers must produce UTC")
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Comment:
    """One entry of an auction's comment thread (BaT deep extraction)."""

    external_id: str
    kind: CommentKind
    author: str | None
    posted_at: datetime | None
    text: str
    amount: int | None = None  # bids only, in `currency` units
    currency: str | None = None

    def to_contract(self) -> dict:
        return {
            "id": self.external_id,
            "kind": str(self.kind),
            "author": self.author,
            "posted_at": _iso_utc(self.posted_at),
            "text": self.text,
            "amount": self.amount,
            "currency": self.currency,
        }

    def to_record(self) -> dict:
        return {"external_id": self.external_id, "kind": str(self.kind), "author": self.author,
                "posted_at": _iso_exact(self.posted_at), "text": self.text, "amount": self.amount,
                "currency": self.currency}

    @classmethod
    def from_record(cls, record: dict) -> Comment:
        return cls(external_id=record["external_id"], kind=CommentKind(record["kind"]), author=record["author"],
                   posted_at=_from_iso(record["posted_at"]), text=record["text"], amount=record["amount"],
                   currency=record["currency"])


def _iso_exact(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _from_iso(value: str | None) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"naive time {value!r} in a record; records hold UTC")
    return parsed


@dataclass
class ListingRef:
    """A listing found on an index, results or search page (or a list API response)."""

    url: str
    external_id: str
    title: str | None = None
    outcome: Outcome | None = None
    price: int | None = None  # the figure the index shows: sale price, high bid or asking price
    currency: str | None = None
    ended_at: datetime | None = None
    no_reserve: bool | None = None
    # what a classifieds result card shows besides its price (craigslist's "123k mi · oakland")
    location: str | None = None
    mileage: int | None = None
    mileage_unit: str | None = None
    vin: str | None = None  # what a dealer's inventory card shows
    stock_number: str | None = None

    def to_contract(self) -> dict:
        return {
            "url": self.url,
            "external_id": self.external_id,
            "title": self.title,
            "outcome": str(self.outcome) if self.outcome is not None else None,
            "price": self.price,
            "ended_at": _iso_utc(self.ended_at),
            "no_reserve": self.no_reserve,
            "location": self.location,
            "mileage": self.mileage,
            "mileage_unit": self.mileage_unit,
            "vin": self.vin,
            "stock_number": self.stock_number,
        }


def _paged_contract(kind: str, page, items) -> dict:
    """The contract of a page of a paginated list (listings or sellers)."""
    return {
        "kind": kind,
        "source": page.source,
        "url": page.url,
        "total_items": page.total_items,
        "page": page.page,
        "pages_total": page.pages_total,
        "next_page_url": page.next_page_url,
        "items": [item.to_contract() for item in items],
    }


@dataclass
class IndexPage:
    source: str
    url: str
    items: list[ListingRef]
    total_items: int | None = None
    page: int | None = None
    pages_total: int | None = None
    next_page_url: str | None = None
    fallback: bool = False  # read by the generic structured-data reader (see VehicleListing.fallback)

    def __post_init__(self) -> None:
        if self.fallback and any(item.outcome not in FALLBACK_OUTCOMES for item in self.items):
            raise ValueError(f"a fallback parse of {self.url} decides no outcome of the listings it finds")

    def to_contract(self, deep: bool = False) -> dict:
        return _paged_contract("index", self, self.items) | {"fallback": self.fallback}


@dataclass
class VehicleListing:
    """One listing page (or detail JSON) of any source, normalized.

    Invariant, also enforced by the database: `sale_price` only on a sale.
    """

    source: str
    url: str
    external_id: str
    title: str | None = None
    year: int | None = None
    make: str | None = None
    model: str | None = None
    trim: str | None = None
    vin: str | None = None
    vin_state: VinState | None = None
    mileage: int | None = None
    mileage_unit: str | None = None  # "mi" | "km"
    outcome: Outcome | None = None  # None for classifieds and dealer stock (not auctions)
    sale_price: int | None = None
    high_bid: int | None = None
    asking_price: int | None = None
    currency: str | None = None
    bid_count: int | None = None
    comment_count: int | None = None
    view_count: int | None = None
    watcher_count: int | None = None
    ended_at: datetime | None = None
    seller: str | None = None
    buyer: str | None = None
    location: str | None = None
    lot_number: str | None = None
    no_reserve: bool | None = None
    exterior_color: str | None = None
    interior_color: str | None = None
    transmission: str | None = None
    drivetrain: str | None = None
    engine: str | None = None
    body_style: str | None = None
    title_status: str | None = None  # "clean", "salvage", "rebuilt", … as the page states it
    fuel: str | None = None
    images: list[str] = field(default_factory=list)
    comments: list[Comment] | None = None  # filled by deep extraction only
    # Which element or JSON field decided the outcome, e.g. ".listing-available-info" or "api:status".
    outcome_evidence: str | None = None
    # Read by the generic structured-data reader (sources/structured.py), not by the source's own parser:
    # the page's markup drifted away from what the parser knows. Such a parse never decides an outcome.
    fallback: bool = False

    def __post_init__(self) -> None:
        if self.sale_price is not None and self.outcome not in SALE_OUTCOMES:
            raise ValueError(f"sale_price on a {self.outcome} listing ({self.url}): only sales carry a sale price")
        if self.fallback and (self.sale_price is not None or self.outcome not in FALLBACK_OUTCOMES):
            # The one place this rule lives: schema.org's offers.price on an auction page is the final or
            # current high bid whether or not the car sold, so structured data alone never makes a sale.
            raise ValueError(f"a fallback parse of {self.url} decides no outcome and carries no sale price "
                             f"(outcome {self.outcome}, sale_price {self.sale_price})")
        if self.mileage_unit not in (None, "mi", "km"):
            raise ValueError(f"mileage_unit must be 'mi' or 'km', not {self.mileage_unit!r}")

    @property
    def is_auction(self) -> bool:
        return self.outcome is not None

    def to_contract(self, deep: bool = False) -> dict:
        out = {
            "kind": "listing",
            "source": self.source,
            "url": self.url,
            "external_id": self.external_id,
        }
        for f in dataclasses.fields(self):
            if f.name in ("source", "url", "external_id", "comments", "outcome_evidence"):
                continue
            value = getattr(self, f.name)
            if isinstance(value, datetime):
                value = _iso_utc(value)
            elif isinstance(value, StrEnum):
                value = str(value)
            elif isinstance(value, list):
                value = list(value)
            out[f.name] = value
        if deep:
            out["comments"] = [c.to_contract() for c in (self.comments or [])]
        return out

    def to_record(self) -> dict:
        """Every field as plain JSON values, losing nothing (unlike the contract, which rounds times and leaves
        out the evidence): how the one parse of an auction page travels on its deep-extraction queue item to
        the step that stores its outcome. `from_record` reads it back."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, datetime):
                value = _iso_exact(value)
            elif isinstance(value, StrEnum):
                value = str(value)
            elif f.name == "comments":
                value = None if value is None else [c.to_record() for c in value]
            elif isinstance(value, list):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_record(cls, record: dict) -> VehicleListing:
        """The listing `to_record` wrote; a record that is not one raises (KeyError, TypeError, ValueError)."""
        values = {f.name: record[f.name] for f in dataclasses.fields(cls)}
        values["ended_at"] = _from_iso(values["ended_at"])
        for name, kind in (("outcome", Outcome), ("vin_state", VinState)):
            if values[name] is not None:
                values[name] = kind(values[name])
        if values["comments"] is not None:
            values["comments"] = [Comment.from_record(c) for c in values["comments"]]
        if not isinstance(values["images"], list):
            raise TypeError("images must be a list")
        return cls(**values)


class SellerKind(StrEnum):
    DEALER = "dealer"
    AUCTION_HOUSE = "auction_house"


@dataclass
class SellerRef:
    """A seller found in classic.com's directory, scored for how sure we are it is a usable dealer source."""

    name: str
    profile_url: str
    external_id: str
    kind: SellerKind
    website: str | None = None
    inventory_url: str | None = None
    location: str | None = None
    listing_count: int | None = None
    confidence: float = 0.0

    def to_contract(self) -> dict:
        return {
            "name": self.name,
            "profile_url": self.profile_url,
            "external_id": self.external_id,
            "kind": str(self.kind),
            "website": self.website,
            "inventory_url": self.inventory_url,
            "location": self.location,
            "listing_count": self.listing_count,
            "confidence": round(self.confidence, 2),
        }


@dataclass
class SellerDirectoryPage:
    source: str
    url: str
    sellers: list[SellerRef]
    total_items: int | None = None
    page: int | None = None
    pages_total: int | None = None
    next_page_url: str | None = None

    def to_contract(self, deep: bool = False) -> dict:
        return _paged_contract("sellers", self, self.sellers)

