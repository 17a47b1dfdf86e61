"""SMTP protocol log lines -> one row per session (schema.SESSIONS), in polars expressions.

A session is keyed by (server, service, direction, session_id): the id is unique only within
one process of one server, and a session may span several files (hourly/size rollover), so
the aggregation runs over the whole LINES table, never per file. Rows are ordered by
(seq, file_id, line_no) before grouping because group_by keeps the input order inside each
group, which makes "first"/"last" facts mean first/last in the session's own sequence.

In a receive log ``<`` rows are the client's commands and ``>`` rows our replies; in a send
log it is the other way round (log-formats.md §1.3). Every fact is derived from the
"command" and "reply" views so one set of expressions serves both directions.
"""

from __future__ import annotations

import polars as pl

from mailhops.index import schema

_KEY = ["server", "service", "direction", "session_id"]

# Regexes over the data column (commands and replies) and the context column (`*` rows).
_RE_VERB = r"^\s*([A-Za-z][A-Za-z0-9-]*)"
_RE_HELO = r"(?i)^\s*(?:EHLO|HELO)\s+(\S.*?)\s*$"
_RE_MAIL = r"(?i)^\s*MAIL FROM:\s*<([^>]*)>"
_RE_RCPT = r"(?i)^\s*RCPT TO:\s*<([^>]*)>"
_RE_CODE = r"^([2-5]\d\d)(?:[ -]|$)"
_RE_BANNER = r"^220[ -]\s*(.*)$"
_RE_MSGID_RECV = r"receiving message with InternetMessageId (<[^>]*>)"
_RE_MSGID_SEND = r"sending message with RecordId \S+ and InternetMessageId (<[^>]*>)"
_RE_MSGID_REPLY = r"^250[ -]2\.6\.0 (<[^>]*>)"
_RE_INTERNAL = r"\[InternalId=(\d+)"
_RE_INTERNAL_SWAPPED = r"Hostname=(\d+)\]"  # 2013 "Queued mail for redundancy" swaps them
_RE_RECORD = r"sending message with RecordId (\d+)"
_RE_PROXY_ERROR = r"\bC?PRX\d\b|No proxy destinations|No destinations could be obtained"
_RE_TLS_FAILED = r"(?i)TLS negotiation failed|negotiation failed|TLS .*fail"
_RE_TLS_OK = r"(?i)negotiation succeeded"
_RE_TIMEOUT = r"(?i)^Timeout|timed out|Failed to connect|connection attempt failed"
# "250 2.1.0 Sender OK" / "250 2.1.5 Recipient OK" are not message acceptance even when a
# pipelined BDAT precedes them in the log.
_RE_NOT_ACCEPT = r"^250[ -]2\.1\.\d"

# After this line a Front End logs nothing more of the dialogue: the message went on through
# the blind proxy (client proxy 587->465, outbound proxy 717), so the hop counts as delivered.
_RE_BLIND_PROXY = r"will now be (?:blindly )?proxied"

_DATA_VERBS = ["DATA", "BDAT"]
_PROBE_VERBS = ["EHLO", "HELO", "QUIT"]


def _row_facts() -> list[pl.Expr]:
    """Per-row derived columns: the command/reply views and the regex extractions."""
    receive = pl.col("direction") == schema.RECEIVE
    cmd = pl.when(receive).then(pl.col("event") == "<").otherwise(pl.col("event") == ">")
    reply = pl.when(receive).then(pl.col("event") == ">").otherwise(pl.col("event") == "<")
    data = pl.col("data")
    ctx = pl.col("context")
    info = pl.col("event") == "*"
    return [
        cmd.alias("_cmd"),
        reply.alias("_reply"),
        pl.when(cmd).then(data.str.extract(_RE_VERB, 1).str.to_uppercase()).alias("_verb"),
        pl.when(cmd).then(data.str.extract(_RE_HELO, 1)).alias("_helo"),
        pl.when(cmd).then(data.str.extract(_RE_MAIL, 1)).alias("_mail"),
        pl.when(cmd).then(data.str.extract(_RE_RCPT, 1)).alias("_rcpt"),
        pl.when(reply)
        .then(data.str.extract(_RE_CODE, 1).cast(pl.Int16, strict=False))
        .alias("_code"),
        pl.when(reply).then(data.str.extract(_RE_BANNER, 1)).alias("_banner"),
        pl.when(info & (ctx == "authenticated")).then(data).alias("_auth"),
        # At most one id per row (a row is either a `*` context or a reply): coalesce.
        pl.coalesce(
            ctx.str.extract(_RE_MSGID_RECV, 1),
            ctx.str.extract(_RE_MSGID_SEND, 1),
            pl.when(reply).then(data.str.extract(_RE_MSGID_REPLY, 1)),
        ).alias("_msgids"),
        pl.coalesce(
            pl.when(reply).then(data.str.extract(_RE_INTERNAL, 1)),
            pl.when(reply).then(data.str.extract(_RE_INTERNAL_SWAPPED, 1)),
            ctx.str.extract(_RE_RECORD, 1),
        ).alias("_intids"),
        (data.str.contains(_RE_PROXY_ERROR) | ctx.str.contains(_RE_PROXY_ERROR)).alias("_prx"),
        (ctx.str.contains(_RE_TLS_FAILED) | (info & data.str.contains(_RE_TLS_FAILED))).alias(
            "_tlsfail"
        ),
        (
            ctx.str.contains(_RE_TLS_OK)
            | (cmd & data.str.contains(r"(?i)^\s*(STARTTLS|X-ANONYMOUSTLS)\b"))
        ).alias("_tlsok"),
        (
            ((pl.col("event") == "-") | info)
            & (ctx.str.contains(_RE_TIMEOUT) | (info & data.str.contains(_RE_TIMEOUT)))
        ).alias("_timeout"),
        (pl.col("event") == "-").alias("_disc"),
        (info & ctx.str.contains(_RE_BLIND_PROXY)).alias("_blind"),
        # What the aggregation needs of the raw text, so data/context can be dropped before
        # the sort (they are most of the frame's memory).
        pl.when(reply & data.str.contains(_RE_CODE)).then(data).alias("_reply_text"),
        pl.when(reply).then(data.str.contains(_RE_NOT_ACCEPT)).alias("_not_accept"),
        pl.when(reply).then(data.str.contains("Queued mail for delivery")).alias("_queued"),
    ]


def _first_non_empty(col: str) -> pl.Expr:
    """First value of ``col`` in the group that is neither null nor empty."""
    c = pl.col(col)
    return c.filter(c.is_not_null() & (c != "")).first()


def _distinct_list(col: str) -> pl.Expr:
    """Distinct non-null values of ``col`` over the group, in first-seen order."""
    return pl.col(col).drop_nulls().unique(maintain_order=True)


def _aggregations() -> list[pl.Expr]:
    """The per-session facts, evaluated inside one group_by."""
    code = pl.col("_code")
    reply_with_code = pl.col("_reply") & code.is_not_null()
    # The last command verb before each row (forward-filled inside the group) tells
    # whether a 250 answers DATA/BDAT, i.e. a message was accepted.
    last_verb = pl.col("_verb").forward_fill()
    accepted = (
        pl.col("_reply")
        & (code == 250)
        & (last_verb.is_in(_DATA_VERBS) & ~pl.col("_not_accept") | pl.col("_queued"))
    )
    verbs = pl.col("_verb").drop_nulls()
    return [
        pl.col("connector").filter(pl.col("connector") != "").first().alias("connector"),
        pl.col("ts").min().alias("start"),
        pl.col("ts").max().alias("end"),
        _first_non_empty("local_ep").alias("local_ep"),
        _first_non_empty("remote_ep").alias("remote_ep"),
        pl.col("_helo").drop_nulls().first().alias("ehlo"),
        pl.col("_banner").drop_nulls().first().alias("banner"),
        (pl.col("_tlsok").any() & ~pl.col("_tlsfail").any()).alias("tls"),
        pl.col("_auth").drop_nulls().first().alias("auth"),
        pl.col("_mail").drop_nulls().first().alias("mail_from"),
        pl.col("_rcpt").drop_nulls().unique(maintain_order=True).alias("rcpt_to"),
        _distinct_list("_msgids").alias("message_ids"),
        _distinct_list("_intids").alias("internal_ids"),
        pl.col("_mail").is_not_null().sum().cast(pl.UInt32).alias("messages"),
        pl.col("_reply_text").filter(reply_with_code).last().alias("last_reply"),
        code.filter(reply_with_code).last().alias("last_code"),
        pl.len().cast(pl.UInt32).alias("line_count"),
        accepted.any().alias("_accepted"),
        pl.col("_prx").any().alias("_prx"),
        pl.col("_tlsfail").any().alias("_tlsfail"),
        pl.col("_timeout").any().alias("_timeout"),
        pl.col("_disc").any().alias("_disc"),
        pl.col("_blind").any().alias("_blind"),
        (pl.col("_reply") & (code >= 500)).any().alias("_5xx"),
        (pl.col("_reply") & (code >= 400) & (code < 500)).any().alias("_4xx"),
        verbs.is_in(_PROBE_VERBS).all().alias("_probe_only"),
        pl.col("file_id").unique(maintain_order=True).alias("file_ids"),
    ]


def _outcome() -> pl.Expr:
    """One of schema.OUTCOMES; the first matching rule wins (most specific first)."""
    no_mail = pl.col("messages") == 0
    return (
        pl.when(pl.col("_accepted"))
        .then(pl.lit(schema.OUTCOME_DELIVERED))
        .when(pl.col("_prx"))
        .then(pl.lit(schema.OUTCOME_PROXY_ERROR))
        .when(pl.col("_tlsfail"))
        .then(pl.lit(schema.OUTCOME_TLS_FAILED))
        .when(pl.col("_timeout"))
        .then(pl.lit(schema.OUTCOME_TIMEOUT))
        .when(pl.col("_blind"))
        .then(pl.lit(schema.OUTCOME_DELIVERED))
        .when(pl.col("_5xx"))
        .then(pl.lit(schema.OUTCOME_REJECTED))
        .when(pl.col("_4xx"))
        .then(pl.lit(schema.OUTCOME_DEFERRED))
        .when(~pl.col("_disc"))
        .then(pl.lit(schema.OUTCOME_INCOMPLETE))
        .when(no_mail)
        .then(pl.lit(schema.OUTCOME_NO_MAIL))
        # MAIL FROM, no error and no acceptance, then a clean disconnect: the transaction
        # never finished (client gave up after RCPT, RSET then QUIT).
        .otherwise(pl.lit(schema.OUTCOME_INCOMPLETE))
        .alias("outcome")
    )


def build_sessions(lines: pl.LazyFrame) -> pl.LazyFrame:
    """Aggregate SMTP protocol LINES rows into SESSIONS rows (one group_by, lazy)."""
    frame = (
        lines.select(list(schema.LINES))
        .with_columns(_row_facts())
        .drop("data", "context", "event")
        .sort(["seq", "file_id", "line_no"])
        .group_by(_KEY)
        .agg(_aggregations())
        .with_columns(
            schema.session_key_expr(),
            _outcome(),
            (
                (pl.col("direction") == schema.RECEIVE)
                & (pl.col("messages") == 0)
                & pl.col("_probe_only")
                & ~pl.col("_tlsfail")
            ).alias("noise"),
        )
    )
    return frame.select([pl.col(name).cast(dtype) for name, dtype in schema.SESSIONS.items()]).sort(
        ["start", "key"]
    )


def empty_sessions() -> pl.DataFrame:
    """An empty frame with the SESSIONS schema."""
    return pl.DataFrame(schema=schema.SESSIONS)
