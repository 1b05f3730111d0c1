import warnings

import dagster as dg

# Dealer syncs and repair backfills run several partitions per run (`BackfillPolicy`, beta in this Dagster
# line); its warning would print on every command that loads the definitions.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)
# A run of a multi-partitioned asset (craigslist_listings: metro × day) gets one tag per dimension from Dagster
# itself (`dagster/partition/metro`, `dagster/partition/day`: RunRequest.with_resolved_tags_and_config), and
# Dagster's own tag check calls those two-slash keys deprecated. Nothing the project passes can avoid them.
warnings.filterwarnings("ignore", message=r"Non-compliant tag keys like \['dagster/partition/",
                        category=DeprecationWarning)
