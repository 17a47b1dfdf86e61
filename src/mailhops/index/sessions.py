"""SMTP protocol log lines -> one row per session (schema.SESSIONS), in polars expressions.

A session is keyed by (server, service, direction, session_id): the id is unique only within
one process of one server, and a session may span several files (hourly/size rollover), so
the aggregation runs over the whole LINES table, never per file. Rows are in (seq, file_id,
line_no) order when grouped because group_by keeps the input order inside each group, which
makes "first"/"last" facts mean first/last in the session's own sequence (file order already
is, nearly always: :func:`collect_sessions` checks and sorts only when it is not).

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
_MSGID_RECV_LIT = "receiving message with InternetMessageId "
_RE_MSGID_RECV = _MSGID_RECV_LIT + r"(<[^>]*>)"
_RE_MSGID_SEND = r"sending message with RecordId \S+ and InternetMessageId (<[^>]*>)"
_RE_MSGID_REPLY = r"^250[ -]2\.6\.0 (<[^>]*>)"
_RE_INTERNAL = r"\[InternalId=(\d+)"
_RE_INTERNAL_SWAPPED = r"Hostname=(\d+)\]"  # 2013 "Queued mail for redundancy" swaps them
_RE_RECORD = r"sending message with RecordId (\d+)"
_RE_PROXY_ERROR = r"\bC?PRX\d\b|No proxy destinations|No destinations could be obtained"
_RE_TLS_FAILED = r"(?i)TLS negotiation failed|negotiation failed|TLS .*fail"
_RE_TLS_OK = r"(?i)negotiation succeeded"
_RE_STARTTLS = r"(?i)^\s*(STARTTLS|X-ANONYMOUSTLS)\b"
_RE_TIMEOUT = r"(?i)^Timeout|timed out|Failed to connect|connection attempt failed"
# "250 2.1.0 Sender OK" / "250 2.1.5 Recipient OK" are not message acceptance even when a
# pipelined BDAT precedes them in the log.
_RE_NOT_ACCEPT = r"^250[ -]2\.1\.\d"

# After this line a Front End logs nothing more of the dialogue: the message went on through
# the blind proxy (client proxy 587->465, outbound proxy 717), so the hop counts as delivered.
_RE_BLIND_PROXY = r"will now be (?:blindly )?proxied"

_DATA_VERBS = ["DATA", "BDAT"]
_PROBE_VERBS = ["EHLO", "HELO", "QUIT"]


def _views() -> list[pl.Expr]:
    """Which rows are commands and which replies (the direction decides, §1.3)."""
    receive = pl.col("direction") == schema.RECEIVE
    event = pl.col("event")
    return [
        pl.when(receive).then(event == "<").otherwise(event == ">").alias("_cmd"),
        pl.when(receive).then(event == ">").otherwise(event == "<").alias("_reply"),
    ]


def _heads() -> list[pl.Expr]:
    """The command verb and the reply code: anchored regexes, each run only on its rows
    (a masked row is null, and a regex never runs on a null)."""
    data = pl.col("data")
    return [
        pl.when("_cmd").then(data).str.extract(_RE_VERB, 1).str.to_uppercase().alias("_verb"),
        pl.when("_reply")
        .then(data)
        .str.extract(_RE_CODE, 1)
        .cast(pl.Int16, strict=False)
        .alias("_code"),
    ]


def _on(mask: pl.Expr, text: str = "data") -> pl.Expr:
    """``text`` where ``mask`` holds, else null: the rows a regex can match at all."""
    return pl.when(mask).then(pl.col(text))


def _row_facts() -> list[pl.Expr]:
    """Per-row derived columns. Each extraction runs only on the rows whose verb, code or
    a literal it requires says it can match; the outcome tests (PRX, TLS, timeout) scan
    every row, as any row may carry them."""
    cmd, reply = pl.col("_cmd"), pl.col("_reply")
    verb, code = pl.col("_verb"), pl.col("_code")
    data, ctx = pl.col("data"), pl.col("context")
    info = pl.col("event") == "*"
    rdata = _on(reply)
    # Both context patterns of a send session need this literal.
    sending = _on(ctx.str.contains("sending message with RecordId ", literal=True), "context")
    return [
        _on(verb.is_in(["EHLO", "HELO"])).str.extract(_RE_HELO, 1).alias("_helo"),
        _on(verb == "MAIL").str.extract(_RE_MAIL, 1).alias("_mail"),
        _on(verb == "RCPT").str.extract(_RE_RCPT, 1).alias("_rcpt"),
        _on(code == 220).str.extract(_RE_BANNER, 1).alias("_banner"),
        _on(info & (ctx == "authenticated")).alias("_auth"),
        # At most one id per row (a row is either a `*` context or a reply): coalesce.
        pl.coalesce(
            _on(ctx.str.contains(_MSGID_RECV_LIT, literal=True), "context").str.extract(
                _RE_MSGID_RECV, 1
            ),
            sending.str.extract(_RE_MSGID_SEND, 1),
            _on(code == 250).str.extract(_RE_MSGID_REPLY, 1),
        ).alias("_msgids"),
        pl.coalesce(
            _on(rdata.str.contains("[InternalId=", literal=True)).str.extract(_RE_INTERNAL, 1),
            _on(rdata.str.contains("Hostname=", literal=True)).str.extract(_RE_INTERNAL_SWAPPED, 1),
            sending.str.extract(_RE_RECORD, 1),
        ).alias("_intids"),
        (data.str.contains(_RE_PROXY_ERROR) | ctx.str.contains(_RE_PROXY_ERROR)).alias("_prx"),
        (ctx.str.contains(_RE_TLS_FAILED) | _on(info).str.contains(_RE_TLS_FAILED)).alias(
            "_tlsfail"
        ),
        (ctx.str.contains(_RE_TLS_OK) | _on(cmd).str.contains(_RE_STARTTLS)).alias("_tlsok"),
        (
            ((pl.col("event") == "-") | info)
            & (ctx.str.contains(_RE_TIMEOUT) | _on(info).str.contains(_RE_TIMEOUT))
        ).alias("_timeout"),
        (pl.col("event") == "-").alias("_disc"),
        (info & ctx.str.contains(_RE_BLIND_PROXY)).alias("_blind"),
        # What the aggregation needs of the raw text, so data/context can be dropped before
        # the sort (they are most of the frame's memory).
        _on(code.is_not_null()).alias("_reply_text"),
        rdata.str.contains(_RE_NOT_ACCEPT).alias("_not_accept"),
        rdata.str.contains("Queued mail for delivery", literal=True).alias("_queued"),
        _on(pl.col("connector") != "", "connector").alias("_connector"),
        _on(pl.col("local_ep") != "", "local_ep").alias("_local_ep"),
        _on(pl.col("remote_ep") != "", "remote_ep").alias("_remote_ep"),
    ]


def _failure_texts() -> list[pl.Expr]:
    """The lines a failed outcome is told by (after :func:`_row_facts`, while the raw text
    is still there): the proxy error, TLS failure and timeout lines, and the 4xx/5xx
    replies with their codes. Null on every other row."""
    context = pl.col("context")
    text = pl.when(context != "").then(context).otherwise(pl.col("data"))
    code = pl.col("_code")
    permanent, transient = code >= 500, (code >= 400) & (code < 500)
    return [
        pl.when("_prx").then(text).alias("_prx_text"),
        pl.when("_tlsfail").then(text).alias("_tls_text"),
        pl.when("_timeout").then(text).alias("_timeout_text"),
        pl.when(permanent).then(code).alias("_5xx_code"),
        pl.when(permanent).then(pl.col("data")).alias("_5xx_reply"),
        pl.when(transient).then(code).alias("_4xx_code"),
        pl.when(transient).then(pl.col("data")).alias("_4xx_reply"),
    ]


def _flags() -> list[pl.Expr]:
    """Per-row booleans the aggregation only ORs, so it stays on the fast path."""
    code, verb = pl.col("_code"), pl.col("_verb")
    return [
        (code >= 500).alias("_5xx"),
        ((code >= 400) & (code < 500)).alias("_4xx"),
        (verb.is_not_null() & ~verb.is_in(_PROBE_VERBS)).alias("_not_probe"),
    ]


def _accepted() -> pl.Expr:
    """A 250 that answers DATA/BDAT (the last command verb before it, forward-filled inside
    the session) or says the message was queued: a message was accepted."""
    last_verb = pl.col("_verb").forward_fill()
    accept = last_verb.is_in(_DATA_VERBS) & ~pl.col("_not_accept") | pl.col("_queued")
    return ((pl.col("_code") == 250) & accept).any().alias("_accepted")


def _aggregations() -> list[pl.Expr]:
    """The per-session facts, evaluated inside one group_by (rows in session order)."""

    def first(col: str) -> pl.Expr:
        return pl.col(col).first(ignore_nulls=True)

    def distinct(col: str) -> pl.Expr:
        return pl.col(col).drop_nulls().unique(maintain_order=True)

    return [
        first("_connector").alias("connector"),
        pl.col("ts").min().alias("start"),
        pl.col("ts").max().alias("end"),
        first("_local_ep").alias("local_ep"),
        first("_remote_ep").alias("remote_ep"),
        first("_helo").alias("ehlo"),
        first("_banner").alias("banner"),
        (pl.col("_tlsok").any() & ~pl.col("_tlsfail").any()).alias("tls"),
        first("_auth").alias("auth"),
        first("_mail").alias("mail_from"),
        distinct("_rcpt").alias("rcpt_to"),
        distinct("_msgids").alias("message_ids"),
        distinct("_intids").alias("internal_ids"),
        pl.col("_mail").count().cast(pl.UInt32).alias("messages"),
        pl.col("_reply_text").last(ignore_nulls=True).alias("last_reply"),
        pl.col("_code").last(ignore_nulls=True).alias("last_code"),
        *[pl.col(c).last(ignore_nulls=True) for c in ("_5xx_code", "_5xx_reply")],
        *[pl.col(c).last(ignore_nulls=True) for c in ("_4xx_code", "_4xx_reply")],
        *[first(c) for c in ("_prx_text", "_tls_text", "_timeout_text")],
        pl.len().cast(pl.UInt32).alias("line_count"),
        _accepted(),
        *[pl.col(c).any() for c in ("_prx", "_tlsfail", "_timeout", "_disc", "_blind", "_5xx")],
        pl.col("_4xx").any(),
        (~pl.col("_not_probe").any()).alias("_probe_only"),
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


def _detail() -> list[pl.Expr]:
    """``detail``: the line behind a failed outcome (the last 5xx reply of a rejected
    session, the last 4xx of a deferred one, the proxy error, the TLS failure, the
    timeout), null for the other outcomes; ``error_code``: the code of that reply, else
    the session's last 5xx or, without one, its last 4xx."""
    outcome = pl.col("outcome")
    detail = (
        pl.when(outcome == schema.OUTCOME_PROXY_ERROR)
        .then("_prx_text")
        .when(outcome == schema.OUTCOME_TLS_FAILED)
        .then("_tls_text")
        .when(outcome == schema.OUTCOME_TIMEOUT)
        .then("_timeout_text")
        .when(outcome == schema.OUTCOME_REJECTED)
        .then("_5xx_reply")
        .when(outcome == schema.OUTCOME_DEFERRED)
        .then("_4xx_reply")
    )
    code = (
        pl.when(outcome == schema.OUTCOME_DEFERRED)
        .then("_4xx_code")
        .otherwise(pl.coalesce("_5xx_code", "_4xx_code"))
    )
    return [detail.alias("detail"), code.alias("error_code")]


_LINE_ORDER = ["seq", "file_id", "line_no"]


def _facts(lines: pl.LazyFrame) -> pl.LazyFrame:
    """Each row's facts, without the raw text columns (most of the frame's memory)."""
    return (
        lines.select(list(schema.LINES))
        .with_columns(_views())
        .with_columns(_heads())
        .with_columns(_row_facts())
        .with_columns(_failure_texts())
        .drop("data", "context", "event", "connector", "local_ep", "remote_ep", "_cmd")
    )


#: True for a session whose rows did not come in its own order: its ``seq`` does not rise
#: strictly from row to row (a session continued in a file listed before the one it began
#: in, a duplicated line); a null ``seq`` counts as out of order too.
_UNORDERED = ((pl.col("seq").diff() <= 0).any() | pl.col("seq").is_null().any()).alias("_unordered")


def _sessions(facts: pl.LazyFrame, *extra: pl.Expr) -> pl.LazyFrame:
    """The group_by from row facts in session order to SESSIONS rows (+ ``extra``)."""
    frame = (
        facts.with_columns(_flags())
        .group_by(_KEY)
        .agg(*_aggregations(), *extra)
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
        .with_columns(_detail())
    )
    cast = [pl.col(name).cast(dtype) for name, dtype in schema.SESSIONS.items()]
    return frame.select(*cast, *[pl.col(e.meta.output_name()) for e in extra]).sort(
        ["start", "key"]
    )


def build_sessions(lines: pl.LazyFrame) -> pl.LazyFrame:
    """Aggregate SMTP protocol LINES rows into SESSIONS rows (one group_by, lazy)."""
    return _sessions(_facts(lines).sort(_LINE_ORDER))


def collect_sessions(lines: pl.LazyFrame) -> pl.DataFrame:
    """:func:`build_sessions`, collected, without its sort when it would change nothing.

    A stream's lines come in file order, which is each session's own order nearly always:
    the group_by then keeps it (it keeps the input order inside a group) and sorting every
    row by three keys first costs a fifth of the whole aggregation. Whether a session's
    rows were in order is checked inside the same group_by (:data:`_UNORDERED`); when any
    was not, the row facts are sorted and aggregated again (the result is the same as
    :func:`build_sessions` either way)."""
    facts = _facts(lines).collect(engine="in-memory")
    out = _sessions(facts.lazy(), _UNORDERED).collect(engine="in-memory")
    if out.height and out.get_column("_unordered").any():
        return _sessions(facts.lazy().sort(_LINE_ORDER)).collect(engine="in-memory")
    return out.drop("_unordered")


def empty_sessions() -> pl.DataFrame:
    """An empty frame with the SESSIONS schema."""
    return pl.DataFrame(schema=schema.SESSIONS)
