"""The ticket text of a chain: one line a hop, latency with its own sign."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mailhops.index.chain import render_text
from mailhops.index.chain_model import Chain, Hop

T0 = datetime(2026, 11, 2, 9, 15, 0, tzinfo=UTC)


def hop(sid: str, at_ms: int, latency: int | None) -> Hop:
    start = T0 + timedelta(milliseconds=at_ms)
    return Hop(
        "EX19MBX1",
        "FrontEnd",
        "receive",
        "Default Frontend EX19MBX1",
        sid,
        start,
        start,
        latency_ms=latency,
    )


def test_latency_keeps_its_sign() -> None:
    """A 587 session proxied to 465 opens the next hop before the Front End logs "will now
    be proxied": a negative latency reads "-33 ms", never "+-33 ms"."""
    chain = Chain(
        "m@x",
        hops=[
            hop("08DE0000000000A1", 0, None),
            hop("08DE0000000000A2", -33, -33),
            hop("08DE0000000000A3", 1200, 1233),
        ],
    )
    lines = render_text(chain).splitlines()
    assert lines[1].startswith(" 1. 2026-11-02 09:15:00.000Z") and " ms" not in lines[1]
    assert "session 08DE0000000000A2  -33 ms" in lines[2]
    assert "+-" not in lines[2]
    assert "session 08DE0000000000A3  +1233 ms" in lines[3]
