"""Markup drift in numbers: whether a source's share of pages that fail to parse, or parse only through the
structured-data fallback, has risen clearly above its earlier level (pure, testable)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from vehicle_pipeline.store.parses import ParseCounts

RECENT = timedelta(hours=24)  # the window judged
EARLIER = timedelta(days=7)  # the level it is judged against: the week before that window
MIN_PAGES = 20  # fewer parses in a window say nothing
MARGIN = 0.15  # "clearly above": at least this many points higher…
RATIO = 2.0  # …and at least this many times the earlier share
NO_BASELINE_SHARE = 0.5  # without an earlier level (a new source), a window this bad is drift


@dataclass(frozen=True)
class Drift:
    recent: ParseCounts
    earlier: ParseCounts
    drifting: bool
    reason: str

    @property
    def recent_share(self) -> float | None:
        return self.recent.unread / self.recent.pages if self.recent.pages else None

    @property
    def earlier_share(self) -> float | None:
        return self.earlier.unread / self.earlier.pages if self.earlier.pages else None

    def metadata(self) -> dict:
        out = {"recent_pages": self.recent.pages, "recent_failed": self.recent.failed,
               "recent_fallback": self.recent.fallback, "earlier_pages": self.earlier.pages,
               "earlier_failed": self.earlier.failed, "earlier_fallback": self.earlier.fallback}
        if self.recent_share is not None:
            out["recent_unread_share"] = round(self.recent_share, 4)
        if self.earlier_share is not None:
            out["earlier_unread_share"] = round(self.earlier_share, 4)
        return out | {"reason": self.reason}


def windows(now: datetime) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]]:
    """(recent window, earlier window) ending at `now`."""
    start = now - RECENT
    return (start, now), (start - EARLIER, start)


def assess(recent: ParseCounts, earlier: ParseCounts, *, min_pages: int = MIN_PAGES, margin: float = MARGIN,
           ratio: float = RATIO, no_baseline_share: float = NO_BASELINE_SHARE) -> Drift:
    if recent.pages < min_pages:
        return Drift(recent, earlier, False, f"{recent.pages} parses in the window (fewer than {min_pages})")
    share = recent.unread / recent.pages
    if earlier.pages < min_pages:
        drifting = share >= no_baseline_share
        return Drift(recent, earlier, drifting, f"{share:.0%} failed or fallback with no earlier level "
                                                f"({'at or above' if drifting else 'below'} {no_baseline_share:.0%})")
    before = earlier.unread / earlier.pages
    drifting = share >= before + margin and share >= before * ratio
    return Drift(recent, earlier, drifting, f"{share:.0%} failed or fallback, against {before:.0%} before"
                                            + (" (markup drift)" if drifting else ""))
