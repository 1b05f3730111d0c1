"""The shared vocabulary of the sample site: what the world generator decides and what page renderers draw.

Split of responsibilities:
- `world.py` decides the facts, deterministic for a seed and clock: the cars (`SampleCar`) and where and
  how each is offered (`SampleListing`): source, ids, outcome, prices, counts, comments, times.
- `pages/<source>.py` (one renderer per source) turns a `SampleListing` into
  1. its truth: the exact dict `vehicle-pipeline parse` must print for the page (`listing_truth`), and
  2. the page itself, shaped like the real site's page (`render_listing`), plus index pages (`render_index`).
  A renderer decides which facts its site shows: a fact the real page does not show is None in the truth.
- `server.py` routes HTTP requests to renderers, serves `/_truth`, robots.txt, faults and the clock.

Every renderer module exposes:

    SOURCE: str
    def listing_path(listing: SampleListing) -> str            the page's path, e.g. "/listing/<slug>/" (Craigslist
                                                               below the metro, a dealer below its slug: sites.SiteMap
                                                               turns it into the URL at the real host name)
    def listing_truth(listing: SampleListing, ctx: SiteContext) -> dict   the parse contract (with "comments" for deep sources)
    def render_listing(listing: SampleListing, ctx: SiteContext) -> Rendered
    def index_paths() -> list[str]                             the index entry points (first pages) below the prefix
    def render_index(path: str, query: dict[str, str], listings: list[SampleListing], ctx: SiteContext) -> Rendered | None
    def index_truth(path: str, query: dict[str, str], listings: list[SampleListing], ctx: SiteContext) -> dict | None

`listings` passed to index functions are the source's listings visible at the current clock, newest first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from vehicle_pipeline.sample_site.dealers import DEALERS, Dealer
from vehicle_pipeline.sample_site.sites import SiteMap


@dataclass(frozen=True)
class SampleCar:
    """One physical car. The same car may be offered on several sources (same VIN)."""

    car_id: int
    year: int
    make: str
    model: str
    trim: str | None
    vin: str | None  # 17-char VIN (valid or with a bad check digit) or a short pre-1981 chassis number
    vin_state: str  # "valid" | "bad_check_digit" | "not_applicable"
    mileage: int
    mileage_unit: str  # "mi" | "km"
    exterior_color: str
    interior_color: str
    transmission: str
    drivetrain: str
    engine: str
    body_style: str
    location: str


@dataclass(frozen=True)
class SampleComment:
    external_id: str
    kind: str  # "comment" | "bid" | "system"
    author: str
    posted_at: int  # UTC epoch seconds
    text: str
    amount: int | None = None


@dataclass
class SampleListing:
    """One offer of a car on one source, with everything the page will show."""

    source: str  # "bat", "carsandbids", "mecum", "broadarrow", "craigslist", "dealer", ...
    external_id: str
    slug: str
    car: SampleCar
    title: str
    outcome: str | None  # auction outcome vocabulary, None for classifieds/dealer stock
    currency: str = "USD"
    sale_price: int | None = None  # only on sold / sold_after
    high_bid: int | None = None
    asking_price: int | None = None
    low_estimate: int | None = None
    high_estimate: int | None = None
    bid_count: int | None = None
    comment_count: int | None = None
    view_count: int | None = None
    watcher_count: int | None = None
    starts_at: int | None = None  # UTC epoch: when the listing appears on the site
    ends_at: int | None = None  # UTC epoch: auction end
    seller: str | None = None
    buyer: str | None = None
    lot_number: str | None = None
    no_reserve: bool | None = None
    images: list[str] = field(default_factory=list)
    comments: list[SampleComment] = field(default_factory=list)
    metro: str | None = None  # craigslist
    dealer: str | None = None  # dealer slug for dealer listings
    sale_code: str | None = None  # broadarrow/mecum auction code
    description: str = ""


@dataclass
class Rendered:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class SiteContext:
    """What a renderer needs to know about the running site."""

    base_url: str  # origin of the page's images, e.g. "https://media.carsandbids.com" (no trailing slash)
    now: int  # the site's clock, UTC epoch seconds
    markup_variant: dict[str, str] = field(default_factory=dict)  # source -> "changed" when a markup-change fault is on
    sites: SiteMap = field(default_factory=SiteMap)  # where each source's pages live (the real host names)
    dealers: tuple[Dealer, ...] = DEALERS  # the world's dealers (classic.com's directory lists every one)

    def url(self, source: str, path: str) -> str:
        """The absolute URL of a renderer path (see sites.SiteMap.url)."""
        return self.sites.url(source, path)

    @property
    def now_dt(self) -> datetime:
        from datetime import timezone

        return datetime.fromtimestamp(self.now, tz=timezone.utc)
