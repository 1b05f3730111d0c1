"""What real pages carry around their facts must not change what a parser reads.

Each case is a page shaped like the site's, with one piece of chrome that once made a parser read the
wrong thing: another listing's card, another seller's fields in a sidebar, a second description meta.
The sample site's pages carry the same traps (sample_site/pages/_chrome.py); these pin each one down.
"""

from __future__ import annotations

import pytest

from vehicle_pipeline.model import IndexPage, ParseError, SellerDirectoryPage, VehicleListing
from vehicle_pipeline.sources import broadarrow, carsandbids, classic

# ---------------------------------------------------------------- Broad Arrow

BA_CARD = """<div class="ft-vehicle-item grid-block">
  <a class="vehicle-card" href="/vehicles/am26_{lot}/{slug}" title="{title}">
   <div class="auto is-vlp vehicle-ft-image-bg"></div>
   <div class="bottom"><div class="top"><span class="lot">Lot {lot}</span></div>
    <div class="price"><div class="top">The Amelia Auction 2026</div><div class="bot"><span>Sold for     $1,450,000</span></div></div></div>
  </a></div>"""

BA_LOT = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>1967 Ferrari 275 GTB/4</title>
<link rel="canonical" href="https://www.broadarrowauctions.com/vehicles/am26_031/1967-ferrari-275-gtb-4"></head>
<body><header class="site-header"><ul class="mega-menu__featured">{menu}</ul></header>
<div class="vehicle-info-header"><p class="lot-sale">Lot 031 | The Amelia Auction 2026</p>
<h1 class="vehicle-title">1967 Ferrari 275 GTB/4</h1></div>
<div class="vehicle-price"><div class="vehicle-estimate">Estimate: <span>$2,800,000 - $3,200,000</span></div>
<div class="vehicle-result not-sold">Not Sold <span class="high-bid">High Bid $2,650,000</span></div></div>
<div class="vehicle-specs"><dl><dt>Chassis No.</dt><dd>10211</dd><dt>Odometer</dt><dd>41,200 miles</dd></dl></div>
<section class="related-lots"><h2>More from this auction</h2>{cards}</section></body></html>"""


def ba_lot(menu: str = "", cards: str = "") -> str:
    return BA_LOT.format(menu=menu, cards=cards)


def ba_cards(n: int) -> str:
    return "".join(BA_CARD.format(lot=f"{100 + i:03d}", slug=f"other-car-{i}", title=f"1965 Other Car {i}") for i in range(n))


def test_broadarrow_lot_page_with_a_carousel_of_other_lots_is_the_lot():
    plain = broadarrow.parse(ba_lot())
    for page in (ba_lot(cards=ba_cards(12)), ba_lot(menu=ba_cards(3), cards=ba_cards(12))):
        got = broadarrow.parse(page)
        assert isinstance(got, VehicleListing)
        assert got == plain
        assert (got.external_id, got.outcome, got.high_bid, got.sale_price) == ("am26_031", "bid_to", 2650000, None)


def test_broadarrow_lot_page_without_its_header_is_an_error_not_a_list_of_other_lots():
    page = ba_lot(cards=ba_cards(12)).replace('class="lot-sale"', 'class="lot-x"')
    with pytest.raises(ParseError, match="lot header"):
        broadarrow.parse(page)


def test_broadarrow_results_list_is_still_a_list():
    page = ("<html><head><link rel='canonical' href='https://www.broadarrowauctions.com/vehicles/results'></head><body>"
            f"<section class='vehicle-grid' data-total-results='12'>{ba_cards(12)}</section></body></html>")
    got = broadarrow.parse(page)
    assert isinstance(got, IndexPage) and len(got.items) == 12 and got.items[0].external_id == "am26_100"


# ---------------------------------------------------------------- classic.com

FEATURED = """<div class="featured-card"><a href="/s/{slug}-Zx9Qw2e/"><img src="/x.png" alt=""></a>
<a class="seller-name" href="/s/{slug}-Zx9Qw2e/">{name}</a><span class="seller-location">Miami, FL</span>
<span class="seller-listing-count">321 listings</span><span class="seller-type">Dealer</span></div>"""

DIRECTORY = """<!DOCTYPE html><html><head><link rel="canonical" href="https://www.classic.com/dealers/"></head><body>
<header><nav class="main-nav"><ul><li><a href="/s/menu-motors-Ab12Cd3/">Menu Motors</a></li>
<li><a href="/s/nav-classics-Ef45Gh6/">Nav Classics</a></li></ul></nav></header>
<main class="directory"><h1>Dealers</h1>
<p class="results-count" data-total-results="2">2 dealers</p>
<ul class="seller-list">
<li class="seller-row"><a href="/s/111-motorcars-ZnQygen/"><img src="/a.png" alt=""></a>
 <a class="seller-name" href="/s/111-motorcars-ZnQygen/">111 Motorcars</a><span class="seller-location">Franklin, TN</span>
 <span class="seller-listing-count">154 listings</span><span class="seller-type">Dealer</span></li>
<li class="seller-row"><a class="seller-name" href="/s/sample-auto-Qw3rTy9/">Sample Auto</a>
 <span class="seller-location">Austin, TX</span><span class="seller-type">Dealer</span></li>
</ul></main>
<aside class="featured-sellers"><h3>Featured Dealers</h3>{featured}</aside>
<footer><ul><li><a href="/s/footer-garage-Ij78Kl9/">Footer Garage</a></li></ul></footer></body></html>"""

PROFILE = """<!DOCTYPE html><html><head><link rel="canonical" href="https://www.classic.com/s/sample-auctions-Qw3rTy9/"></head><body>
<header><a href="/dealers/">Dealers</a></header>
<main class="seller-profile"><h1 class="seller-name">Sample Auctions</h1><div class="seller-type">Auction House</div>
<div class="seller-location">Monterey, CA</div>
<a class="seller-website" href="https://www.sampleauctions.example/" rel="nofollow">Visit Website</a></main>
<aside class="featured-sellers">{featured}</aside>
<footer><a href="https://www.classic.example/about/website">Website terms</a>
<a href="https://dealer-sites.example/inventory/">Inventory tools for dealers</a></footer></body></html>"""


def featured(n: int) -> str:
    return "".join(FEATURED.format(slug=f"featured-{i}", name=f"Featured {i}") for i in range(n))


def test_classic_directory_rows_are_the_list_not_the_menus_sidebars_or_footer():
    got = classic.parse(DIRECTORY.format(featured=featured(8)))
    assert isinstance(got, SellerDirectoryPage)
    assert [s.name for s in got.sellers] == ["111 Motorcars", "Sample Auto"]
    assert [s.listing_count for s in got.sellers] == [154, None]
    assert got.total_items == 2


def test_classic_profile_reads_its_own_fields_not_the_sidebars():
    seller = classic.parse_seller(PROFILE.format(featured=featured(6)))
    assert (seller.name, seller.kind, seller.location) == ("Sample Auctions", "auction_house", "Monterey, CA")
    # the profile states no listing count and no inventory link: the sidebar's and the footer's are not its
    assert seller.listing_count is None and seller.inventory_url is None
    assert seller.website == "https://www.sampleauctions.example/"
    assert seller == classic.parse_seller(PROFILE.format(featured=""))


# ---------------------------------------------------------------- Cars & Bids

CAB = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta name="description" content="Cars &amp; Bids is the best marketplace to buy and sell modern enthusiast cars.">
<title>2016 Mazda MX-5 Miata for Sale - Cars &amp; Bids</title>
<link rel="canonical" href="https://carsandbids.com/auctions/64uRy7nP/2016-mazda-mx-5-miata" data-react-helmet="true">
<meta name="description" content="This 2016 Mazda MX-5 Miata is for sale on Cars &amp; Bids! Auction ends November 4 2026." data-react-helmet="true">
</head><body><div id="root"><div class="auction-title"><h1>2016 Mazda MX-5 Miata</h1></div>
<ul class="bid-stats"><li class="time-left"><span class="value">3 Days</span></li>
<li class="high-bid"><span class="tag">High Bid</span><span class="value"><span class="bid-value">$14,000</span></span></li>
<li class="num-bids"><span class="value">9</span></li><li class="num-comments"><span class="value">21</span></li></ul>
<ul class="stats"><li><div class="th">Ending</div><div class="td">Wed, Nov 4 5:00am PKT</div></li></ul></div></body></html>"""


def test_cab_end_time_year_comes_from_the_pages_own_description():
    got = carsandbids.parse(CAB)
    assert got.outcome == "live" and got.high_bid == 14000
    assert got.ended_at is not None and got.ended_at.isoformat() == "2026-11-04T00:00:00+00:00"
    # without the page's description the year is unknown and so is the end time
    bare = CAB.replace("Auction ends November 4 2026.", "")
    assert carsandbids.parse(bare).ended_at is None
