"""Progress bars draw on a terminal (a real pseudo-terminal here) and stay silent anywhere else."""

import io
import os
import select

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
        drawn = _read_all(master)
    os.close(master)
    assert "backfill bat_repairs" in drawn and "3/3" in drawn and "ETA" in drawn and "/min" in drawn


def test_not_a_terminal_prints_nothing():
    out = io.StringIO()
    with steps("demo", 3, stream=out) as bar:
        bar.advance()
        bar.grow(2)
    assert out.getvalue() == ""


def _read_all(fd: int) -> str:
    """Everything written to the pseudo-terminal so far: one read returns only what one pass of the line
    discipline holds, so read until nothing more comes."""
    chunks = []
    while select.select([fd], [], [], 0.5)[0]:
        data = os.read(fd, 65536)
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks).decode(errors="replace")
