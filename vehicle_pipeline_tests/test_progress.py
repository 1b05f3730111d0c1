"""Progress bars draw on a terminal (a real pseudo-terminal here) and stay silent anywhere else."""

import io
import os

from vehicle_pipeline.progress import steps


def test_a_terminal_gets_done_total_rate_and_eta():
    master, slave = os.openpty()
    with os.fdopen(slave, "w") as terminal:
        with steps("backfill bat_repairs", 2, stream=terminal) as bar:
            bar.advance()
            bar.grow(1)
            bar.advance()
            bar.advance()
        terminal.flush()
        drawn = os.read(master, 65536).decode(errors="replace")
    os.close(master)
    assert "backfill bat_repairs" in drawn and "3/3" in drawn and "ETA" in drawn and "/min" in drawn


def test_not_a_terminal_prints_nothing():
    out = io.StringIO()
    with steps("demo", 3, stream=out) as bar:
        bar.advance()
        bar.grow(2)
    assert out.getvalue() == ""
