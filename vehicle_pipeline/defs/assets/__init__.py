import warnings

import dagster as dg

# Dealer syncs and repair backfills run several partitions per run (`BackfillPolicy`, beta in this Dagster
# line); its warning would print on every command that loads the definitions.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)
