"""Sessions are aggregated from LINES: one row a (server, service, direction, session id)."""

from __future__ import annotations

import polars as pl
import pytest
from sessions_rows import lines_frame

from mailhops.index import schema
from mailhops.index.sessions import build_sessions, collect_sessions

GREETING = [
    ("+", "", ""),
    (">", "220 EX1.lab.test Microsoft ESMTP MAIL Service ready", ""),
    ("<", "EHLO mail.example.com", ""),
    (">", "250 EX1.lab.test Hello [203.0.113.9]", ""),
]
MAIL = [
    ("<", "MAIL FROM:<alice@example.com> SIZE=1200", ""),
    ("*", "08DE0000000000A1;2026-03-02T10:00:00.000Z;1", "receiving message"),
    (">", "250 2.1.0 Sender OK", ""),
    ("<", "RCPT TO:<bob@lab.test>", ""),
    (">", "250 2.1.5 Recipient OK", ""),
    ("<", "RCPT TO:<carol@lab.test>", ""),
    (">", "250 2.1.5 Recipient OK", ""),
    ("<", "RCPT TO:<bob@lab.test>", ""),
    (">", "250 2.1.5 Recipient OK", ""),
    ("<", "DATA", ""),
    (">", "354 Start mail input; end with <CRLF>.<CRLF>", ""),
    ("*", "", "receiving message with InternetMessageId <m1@example.com>"),
]
QUEUED = (
    ">",
    "250 2.6.0 <m1@example.com> [InternalId=4294967301, Hostname=EX2.lab.test] "
    "1200 bytes in 0.1, 11.7 KB/sec Queued mail for delivery",
    "",
)
BYE = [("<", "QUIT", ""), (">", "221 2.0.0 Closing connection", ""), ("-", "", "Local")]


def one(frame: pl.DataFrame) -> dict[str, object]:
    """The only session built from ``frame``."""
    sessions = build_sessions(frame.lazy()).collect()
    assert sessions.height == 1
    return sessions.row(0, named=True)


def test_schema_is_exactly_sessions() -> None:
    out = build_sessions(lines_frame(GREETING + BYE).lazy())
    assert dict(out.collect_schema()) == schema.SESSIONS
    assert dict(build_sessions(pl.DataFrame(schema=schema.LINES).lazy()).collect().schema) == (
        schema.SESSIONS
    )


def test_delivered_receive_session_facts() -> None:
    s = one(lines_frame(GREETING + MAIL + [QUEUED] + BYE))
    assert s["key"] == "EX1|FrontEnd|receive|08DE0000000000A1"
    assert s["ehlo"] == "mail.example.com"
    assert s["banner"] == "EX1.lab.test Microsoft ESMTP MAIL Service ready"
    assert s["mail_from"] == "alice@example.com"
    assert s["rcpt_to"] == ["bob@lab.test", "carol@lab.test"]
    assert s["message_ids"] == ["<m1@example.com>"]
    assert s["internal_ids"] == ["4294967301"]
    assert s["messages"] == 1
    assert s["last_reply"] == "221 2.0.0 Closing connection"
    assert s["last_code"] == 221
    assert s["line_count"] == len(GREETING + MAIL + BYE) + 1
    assert s["outcome"] == schema.OUTCOME_DELIVERED
    assert s["noise"] is False
    assert s["tls"] is False


def test_rollover_across_files_is_one_session_in_seq_order() -> None:
    rows = GREETING + MAIL + [QUEUED] + BYE
    head = lines_frame(rows[:9], file_id=7, start_line=100)
    # The tail is in a later file (lower line numbers) and arrives first in the frame.
    tail = lines_frame(rows[9:], file_id=8, start_seq=9, start_line=6)
    s = one(pl.concat([tail, head]))
    assert s["file_ids"] == [7, 8]
    assert s["line_count"] == len(rows)
    assert s["ehlo"] == "mail.example.com"
    assert s["last_code"] == 221
    assert s["outcome"] == schema.OUTCOME_DELIVERED


def test_interleaved_sessions_and_same_id_on_two_servers_stay_apart() -> None:
    a = lines_frame(GREETING + MAIL + [QUEUED] + BYE, sid="08DE00000000000A")
    b = lines_frame(GREETING + BYE, sid="08DE00000000000B")
    c = lines_frame(GREETING + BYE, sid="08DE00000000000A", server="EX2")
    d = lines_frame(GREETING + BYE, sid="08DE00000000000A", direction=schema.SEND)
    mixed = pl.concat([a, b, c, d]).sample(fraction=1.0, shuffle=True, seed=3)
    out = build_sessions(mixed.lazy()).collect()
    assert out.height == 4
    by_key = {r["key"]: r for r in out.iter_rows(named=True)}
    assert by_key["EX1|FrontEnd|receive|08DE00000000000A"]["outcome"] == "delivered"
    assert by_key["EX1|FrontEnd|receive|08DE00000000000B"]["noise"] is True
    assert by_key["EX2|FrontEnd|receive|08DE00000000000A"]["line_count"] == 7
    assert by_key["EX1|FrontEnd|send|08DE00000000000A"]["noise"] is False


PRX3 = "451 4.7.0 Temporary server error. Please try again later. PRX3 "


@pytest.mark.parametrize(
    ("tail", "outcome", "code", "detail"),
    [
        ([QUEUED, *BYE], schema.OUTCOME_DELIVERED, None, None),
        (
            [(">", "550 5.7.1 Message rejected as spam", ""), *BYE],
            schema.OUTCOME_REJECTED,
            550,
            "550 5.7.1 Message rejected as spam",
        ),
        (
            [(">", "452 4.3.1 Insufficient system resources", ""), *BYE],
            schema.OUTCOME_DEFERRED,
            452,
            "452 4.3.1 Insufficient system resources",
        ),
        ([(">", PRX3, ""), *BYE], schema.OUTCOME_PROXY_ERROR, 451, PRX3),
        (  # rejected, then the server shut down: the 5xx says why, not the 421
            [(">", "550 5.1.1 User unknown", ""), (">", "421 4.3.2 Service not available", "")],
            schema.OUTCOME_REJECTED,
            550,
            "550 5.1.1 User unknown",
        ),
        ([("-", "", "Timeout")], schema.OUTCOME_TIMEOUT, None, "Timeout"),
        ([], schema.OUTCOME_INCOMPLETE, None, None),
    ],
)
def test_outcomes_and_the_line_behind_a_failure(
    tail: list[tuple[str, str, str]], outcome: str, code: int | None, detail: str | None
) -> None:
    """A failed session says why with the line that decided it, not its last reply (the
    221 to QUIT); ``error_code`` is its last 4xx/5xx reply."""
    s = one(lines_frame(GREETING + MAIL + tail))
    assert (s["outcome"], s["error_code"], s["detail"]) == (outcome, code, detail)


def test_tls_failed_and_succeeded() -> None:
    tls = [("<", "STARTTLS", ""), (">", "220 2.0.0 SMTP server ready", "")]
    ok = [("*", "", "TLS protocol SP_PROT_TLS1_2_SERVER negotiation succeeded using ...")]
    bad = [("*", "", "TLS negotiation failed with error UnknownCredentials")]
    good = one(lines_frame(GREETING + tls + ok + MAIL + [QUEUED] + BYE))
    assert good["tls"] is True
    assert good["outcome"] == schema.OUTCOME_DELIVERED
    failed = one(lines_frame(GREETING + tls + bad + [("-", "", "Local")]))
    assert failed["tls"] is False
    assert failed["outcome"] == schema.OUTCOME_TLS_FAILED
    assert failed["detail"] == "TLS negotiation failed with error UnknownCredentials"
    assert failed["last_reply"] == "220 2.0.0 SMTP server ready"
    assert failed["noise"] is False


def test_noise_connect_quit_and_probe_but_not_real_sessions() -> None:
    connect_quit = one(lines_frame([("+", "", ""), ("-", "", "Remote")]))
    assert connect_quit["noise"] is True
    assert connect_quit["outcome"] == schema.OUTCOME_NO_MAIL
    probe = one(lines_frame(GREETING + BYE))
    assert probe["noise"] is True
    assert probe["mail_from"] is None
    with_rset = one(lines_frame([*GREETING, ("<", "RSET", ""), (">", "250 OK", ""), *BYE]))
    assert with_rset["noise"] is False


def test_send_session_uses_our_commands_and_their_replies() -> None:
    rows = [
        ("*", "", "attempting to connect"),
        ("+", "", ""),
        ("<", "220 EX2.lab.test Microsoft ESMTP MAIL Service ready", ""),
        (">", "EHLO EX1.lab.test", ""),
        ("<", "250 EX2.lab.test Hello", ""),
        ("*", "", "sending message with RecordId 4294967301 and InternetMessageId <m1@ex>"),
        (">", "MAIL FROM:<> SIZE=10", ""),
        (">", "RCPT TO:<bob@lab.test>", ""),
        (">", "BDAT 10 LAST", ""),
        ("<", "250 2.1.0 Sender OK", ""),
        ("<", "250 2.1.5 Recipient OK", ""),
        ("<", "250 2.6.0 <m1@ex> [InternalId=99, Hostname=EX2] Queued mail for delivery", ""),
        (">", "QUIT", ""),
        ("-", "", "Local"),
    ]
    frame = lines_frame(rows, direction=schema.SEND, connector="Intra-Organization SMTP Send")
    s = one(
        frame.with_columns(
            pl.when(pl.col("seq") == 0)
            .then(pl.lit(""))
            .otherwise(pl.col("local_ep"))
            .alias("local_ep")
        )
    )
    assert s["ehlo"] == "EX1.lab.test"
    assert s["mail_from"] == ""
    assert s["message_ids"] == ["<m1@ex>"]
    assert s["internal_ids"] == ["4294967301", "99"]
    assert s["local_ep"] == "10.0.3.4:25"
    assert s["last_code"] == 250
    assert s["outcome"] == schema.OUTCOME_DELIVERED


def test_pipelined_sender_ok_after_bdat_is_not_acceptance() -> None:
    rows = [
        ("+", "", ""),
        (">", "MAIL FROM:<a@ex>", ""),
        (">", "RCPT TO:<b@ex>", ""),
        (">", "BDAT 10 LAST", ""),
        ("<", "250 2.1.0 Sender OK", ""),
        ("<", "250 2.1.5 Recipient OK", ""),
        ("<", "451 4.4.0 Message failed", ""),
        ("-", "", "Local"),
    ]
    s = one(lines_frame(rows, direction=schema.SEND))
    assert s["outcome"] == schema.OUTCOME_DEFERRED


def test_auth_identity() -> None:
    rows = [*GREETING, ("*", "LAB\\alice", "authenticated"), *BYE]
    assert one(lines_frame(rows))["auth"] == "LAB\\alice"


def test_collect_sessions_of_no_lines_has_the_sessions_schema() -> None:
    out = collect_sessions(pl.DataFrame(schema=schema.LINES).lazy())
    assert out.height == 0
    assert dict(out.schema) == schema.SESSIONS
