"""Partitions: auction sites by day, Craigslist by metro × day, dealers by dealer, BaT repairs by month."""

import dagster as dg

FIRST_DAY = "2026-01-01"
CRAIGSLIST_METROS = ["sacramento", "seattle", "sfbay", "vancouver"]

daily = dg.DailyPartitionsDefinition(start_date=FIRST_DAY, end_offset=1)
craigslist_metro_day = dg.MultiPartitionsDefinition(
    {"metro": dg.StaticPartitionsDefinition(CRAIGSLIST_METROS), "day": daily}
)
dealers = dg.DynamicPartitionsDefinition(name="dealers")
monthly = dg.MonthlyPartitionsDefinition(start_date="2020-01-01", end_offset=1)
