"""A message only message tracking saw: its chain's outcome, recipients and text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from mailhops.index import schema
from mailhops.index.chain import render_text, tracked_chain

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def events(*rows: tuple[str, str, str, str]) -> pl.DataFrame:
    """(event_id, source, connector_id, recipient_status) rows, a second apart."""
    data = [
        {
            "ts": T0 + timedelta(seconds=i),
            "server": "EX19MBX1",
            "event_id": event,
            "source": source,
            "connector_id": connector,
            "client_hostname": "",
            "server_hostname": "EX19MBX2.contoso.lab",
            "sender_address": "a@example.org",
            "recipient_address": "b@contoso.lab;c@contoso.lab",
            "recipient_status": status,
            "internal_message_id": "42",
        }
        for i, (event, source, connector, status) in enumerate(rows)
    ]
    return pl.DataFrame(data, schema=schema.TRACKING_EVENT)


RECEIVE = ("RECEIVE", "SMTP", "EX19MBX1\\Default EX19MBX1", "")
INTRA = ("SEND", "SMTP", "Intra-Organization SMTP Send Connector", "")


@pytest.mark.parametrize(
    ("rows", "outcome", "detail"),
    [
        ((RECEIVE, ("DELIVER", "STOREDRIVER", "", "Inbox")), "delivered", ""),
        ((RECEIVE, ("SEND", "SMTP", "To Internet", "250 2.6.0 ok")), "delivered", ""),
        (
            (RECEIVE, ("DEFER", "SMTP", "", "451 4.4.0 later"), ("FAIL", "DSN", "", "550 5.1.1")),
            "rejected",
            "FAIL 550 5.1.1",
        ),
        ((RECEIVE, ("DEFER", "SMTP", "", "451 4.4.0 later")), "deferred", "DEFER 451 4.4.0 later"),
        (
            (RECEIVE, INTRA),
            "incomplete",
            "sent on to EX19MBX2.contoso.lab; its tracking log is not indexed",
        ),
        ((RECEIVE,), "incomplete", ""),
    ],
)
def test_outcome_from_tracking(rows: tuple, outcome: str, detail: str) -> None:
    chain = tracked_chain("<m@x>", events(*rows))
    assert (chain.outcome, chain.outcome_detail) == (outcome, detail)
    assert chain.ok and chain.hops == []
    assert chain.rcpt_to == ["b@contoso.lab", "c@contoso.lab"]
    assert chain.mail_from == "a@example.org"
    assert chain.message_id == "<m@x>"


def test_tracking_text_is_cleaned_of_control_characters() -> None:
    hostile = events(("RECEIVE", "SMTP", "EX\x1b[31mred\x07", "ok\x1b]52;c;AAAA\x07"))
    text = render_text(tracked_chain("m@x", hostile))
    assert "\x1b" not in text and "\x07" not in text
    assert "message tracking saw" in text
    assert "Message-ID: <m@x>" in text


def test_a_column_the_tracking_log_left_out_does_not_break_the_trace() -> None:
    frame = events(RECEIVE, ("SEND", "SMTP", "To Internet", "")).with_columns(
        pl.lit(None, pl.String).alias("source"),
        pl.lit(None, pl.String).alias("recipient_status"),
    )
    chain = tracked_chain("<m@x>", frame)
    assert chain.outcome == "incomplete"  # no source: nothing says it left by SMTP
    assert "None" not in render_text(chain)


@pytest.mark.parametrize(
    ("connector", "host", "outcome"),
    [
        ("EdgeSync - Inbound to Default-First-Site-Name", "EDGE1.contoso.lab", "incomplete"),
        ("Some Send Connector", "EX19MBX2.contoso.lab", "incomplete"),  # one of ours
        ("To Internet", "mx.fabrikam.com", "delivered"),
    ],
)
def test_a_send_to_our_own_servers_is_not_a_delivery(
    connector: str, host: str, outcome: str
) -> None:
    frame = events(RECEIVE, ("SEND", "SMTP", connector, "")).with_columns(
        pl.lit(host).alias("server_hostname")
    )
    chain = tracked_chain("<m@x>", frame, {"EX19MBX1", "EX19MBX2"})
    assert chain.outcome == outcome
    if outcome == "incomplete":
        assert chain.outcome_detail == f"sent on to {host}; its tracking log is not indexed"


def test_the_commands_offered_follow_the_path_tracking_saw() -> None:
    """Inbound through a Front End to a mailbox, and a mailbox's mail to the Internet, need
    different logs turned on."""
    from mailhops.index.chain_model import (
        FE_SEND_CMD,
        HUB_SEND_CMD,
        MD_RECEIVE_CMD,
        RECEIVE_CMD,
        SEND_CMD,
    )

    deliver = ("DELIVER", "STOREDRIVER", "", "")
    inbound = tracked_chain("<m@x>", events(RECEIVE, INTRA, deliver))
    text = render_text(inbound)
    assert [c for c in (RECEIVE_CMD, FE_SEND_CMD, HUB_SEND_CMD, MD_RECEIVE_CMD) if c in text] == [
        RECEIVE_CMD,
        FE_SEND_CMD,
        HUB_SEND_CMD,
        MD_RECEIVE_CMD,
    ]
    assert SEND_CMD not in text
    out = ("SEND", "SMTP", "To Internet", "250 2.0.0 OK")
    outbound = tracked_chain("<m@x>", events(("SUBMIT", "STOREDRIVER", "", ""), RECEIVE, out))
    text = render_text(outbound)
    assert SEND_CMD in text and HUB_SEND_CMD in text and RECEIVE_CMD in text
    assert FE_SEND_CMD not in text and MD_RECEIVE_CMD not in text
