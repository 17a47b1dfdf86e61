"""Segments do not depend on the order the lines arrive in, nor on the case of commands.

build_messages sorts a stream's lines by session alone when they already come in each
session's own order (the usual file order), and on every key otherwise; the opener tests
take a shortcut for commands already written in upper case. Neither may change a segment.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl
from chainfix import FE, HUB, A, B, C, fe_receive, fe_send, hub_receive, hub_send
from frames import T0, session
from polars.testing import assert_frame_equal

from mailhops.index.segments import build_messages


def _stream() -> pl.DataFrame:
    """Several sessions of one stream (FE send), each a few messages long."""
    return pl.concat(
        [fe_send(sid=f"08D0000000000{i:03X}", t0=T0 + timedelta(seconds=i)) for i in range(6)]
    )


def test_shuffled_lines_make_the_same_segments() -> None:
    lines = _stream()
    want = build_messages(lines.lazy())
    for seed in range(3):
        got = build_messages(lines.sample(fraction=1.0, shuffle=True, seed=seed).lazy())
        assert_frame_equal(got, want)


def test_a_session_across_files_out_of_file_order() -> None:
    # The second half of the session was logged in a file listed first (rollover).
    lines = fe_send()
    half = lines.height // 2
    first, second = lines.head(half), lines.tail(lines.height - half)
    rolled = pl.concat([second.with_columns(pl.lit(7, pl.UInt32).alias("file_id")), first])
    in_order = pl.concat([first, second.with_columns(pl.lit(7, pl.UInt32).alias("file_id"))])
    got = build_messages(rolled.lazy())
    assert_frame_equal(got, build_messages(in_order.lazy()))
    assert got.height == 1 and got["proxied_sid"][0] == A


def test_mixed_streams_in_any_order() -> None:
    lines = pl.concat([fe_receive(), fe_send(), hub_receive(), hub_send()])
    want = build_messages(lines.lazy())
    got = build_messages(lines.reverse().lazy())
    assert_frame_equal(got, want)
    assert set(want["service"]) == {FE, HUB}


def _client(rows: list[tuple[str, str, str]]) -> pl.DataFrame:
    return session("EX1", FE, "receive", C, rows, connector="EX1\\Default Frontend EX1")


def test_commands_in_any_case_open_the_same_transactions() -> None:
    upper = _client(
        [
            ("+", "", ""),
            ("<", "EHLO mail.example.com", ""),
            ("<", "MAIL FROM:<a@example.com>", ""),
            (">", "250 2.1.0 Sender OK", ""),
            ("<", "RCPT TO:<b@contoso.lab>", ""),
            ("<", "RCPT TO: c@contoso.lab", ""),
            ("<", "MAIL FROM:<d@example.com>", ""),
            ("<", "RCPT TO:<e@contoso.lab>", ""),
            ("-", "", "Remote"),
        ]
    )
    lower = upper.with_columns(
        pl.col("data").str.replace(r"^MAIL FROM", "mail from").str.replace(r"^RCPT TO", "Rcpt To")
    )
    want = build_messages(upper.lazy())
    assert want["mail_from"].to_list() == ["a@example.com", "d@example.com"]
    assert want["rcpt_to"].to_list() == [["b@contoso.lab", "c@contoso.lab"], ["e@contoso.lab"]]
    assert_frame_equal(build_messages(lower.lazy()), want)


def test_xproxy_commands_in_any_case() -> None:
    sent = fe_send(sid=B, proxied=A)
    lower = sent.with_columns(pl.col("data").str.replace(r"^XPROXYFROM", "xproxyfrom"))
    want = build_messages(sent.lazy())
    got = build_messages(lower.lazy())
    assert got["xproxy_sid"].to_list() == want["xproxy_sid"].to_list() == [A]
    assert_frame_equal(got, want)
