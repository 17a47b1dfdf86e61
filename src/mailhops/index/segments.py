"""Message transactions (segments) inside SMTP sessions: lines -> MESSAGES.

A session can carry many messages: a cached send session, a multiplexed Hub receive session
fed by a Front End (one ``XPROXYFROM`` block a proxied client session), a client that sends
twice. Linking at session level would pull unrelated messages into one chain, so the linker
works on *segments*: the rows from one opener to the next.

Openers, ranked in the order they appear inside one transaction (log-formats.md §3.1-3.3):

====  =====================================================================================
rank  line
====  =====================================================================================
0     send ``*`` ``Proxying inbound session with session id X`` / ``... Proxied session id X``
1     ``XPROXYFROM``, ``XPROXY``, ``XPROXYTO``, ``XRSETPROXYTO`` (command, either side)
2     send ``*`` ``sending message with RecordId R``; receive ``* ... will now be proxied``
3     ``MAIL FROM``
====  =====================================================================================

An opener starts a new segment unless an opener of a lower rank came just before it in the
same transaction (``Proxying`` + ``XPROXYFROM`` + ``MAIL FROM`` is one message). Rows before
the first opener (banner, EHLO, auth, ``XSESSIONPARAMS``) are the session preamble
(``msg == -1``): they belong to every segment of the session.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from mailhops.index import schema
from mailhops.index.engine import ENGINE

SID: Final = r"([0-9A-Fa-f]{16})"

# The patterns are matched against ``txt``: the data column for SMTP commands and replies,
# data + context for ``*`` rows (the generator and Exchange builds differ on which is used).
_PROXYING: Final = r"Proxying inbound session with session id " + SID
_PROXIED: Final = r"Proxied session id " + SID
_XPROXY: Final = r"(?i)^(XPROXY|XPROXYFROM|XPROXYTO|XRSETPROXYTO)\b"
_SENDING: Final = r"sending message with RecordId (\d+)"
_PROXIED_NOW: Final = r"will now be proxied"
_MAIL: Final = r"(?i)^MAIL FROM:"
# The address is everything inside <...> (an Internet client may put spaces or markup in
# it; sessions.py reads it the same way), or the bare word when a client sent no brackets.
_RCPT: Final = r"(?i)^RCPT TO:\s*(?:<([^>]*)>|([^\s<>]+))"
_MAILADDR: Final = r"(?i)^MAIL FROM:\s*(?:<([^>]*)>|([^\s<>]+))"
_DATA_END: Final = r"(?i)^(BDAT \d+ LAST|354\b)"
_REPLY: Final = r"^([2-5]\d\d)[ -]"
_MSGID: Final = r"(?:InternetMessageId:? |^250 2\.6\.0 |and InternetMessageId )(<[^>\s]*>)"
_IID: Final = r"\[InternalId=([^,\]\s]+)(?:, Hostname=([^\]\s]+))?\]"
_TEMP_ID: Final = r"^([0-9A-Fa-f]{16});([0-9T:.\-Z]+);(\d+)"
_MDBGUID: Final = r"(?i)^XSESSIONPARAMS MDBGUID=([0-9a-f]{32})"
_SESSIONID: Final = (
    r"(?i)(?:\bSESSIONID=|^XRSETPROXYTO |Outbound proxy from \S* with session id )" + SID
)

#: Columns the linker adds to MESSAGES (beyond schema.MESSAGES).
EXTRA: Final[dict[str, pl.DataType]] = {
    "server": pl.String(),
    "service": pl.String(),
    "direction": pl.String(),
    "session_id": pl.String(),
    "connector": pl.String(),
    "seq": pl.Int32(),  # sequence number of the opener
    "mail_ord": pl.Int32(),  # ordinal of its MAIL FROM in the session; null: no MAIL FROM
    "proxied_sid": pl.String(),  # Proxying inbound session / Proxied session id
    "xproxy_sid": pl.String(),  # XPROXYFROM / XPROXY SID=
    "xproxy_ep": pl.String(),  # XPROXYFROM IP=:PORT= (the original client)
    "upstream_sid": pl.String(),  # XPROXYTO SESSIONID= / Outbound proxy ... session id
    "record_id": pl.String(),  # sending message with RecordId
    "reply_iid": pl.String(),  # [InternalId=R, ...] of the final reply
    "reply_host": pl.String(),  # [..., Hostname=H] of the final reply
    "redundancy": pl.Boolean(),  # "Queued mail for redundancy": a shadow copy
    "temp_n": pl.Int32(),  # receiving message counter (1 = first message)
    "mdbguid": pl.String(),  # XSESSIONPARAMS MDBGUID= of the session
}

COLUMNS: Final[dict[str, pl.DataType]] = {**schema.MESSAGES, **EXTRA}

#: First four characters (upper-cased) of the commands and replies a transaction needs;
#: a prefix test is much cheaper than a regex over every line of the corpus.
_PREFIXES: Final = ["MAIL", "RCPT", "DATA", "BDAT", "XPRO", "XRSE", "XSES", "RSET", "354 ", "250 "]
_STAR: Final = (
    r"Proxying inbound|Proxied session id|sending message with|will now be proxied|"
    r"receiving message|InternetMessageId"
)


def _text() -> pl.Expr:
    """The searchable text of a row: data, plus context for ``*`` rows."""
    return (
        pl.when(pl.col("event") == "*")
        .then(pl.concat_str([pl.col("data"), pl.col("context")], separator=" ", ignore_nulls=True))
        .otherwise(pl.col("data").fill_null(""))
        .alias("txt")
    )


def _relevant() -> pl.Expr:
    """Rows that can matter to a transaction: commands, final-ish replies (not banners or
    EHLO lines) and the known ``*`` lines (their text is in the context column). Each test
    runs only on the rows of its event (a masked row is null, and null never passes)."""
    event = pl.col("event")
    smtp = event.is_in(["<", ">"])
    data = pl.when(smtp).then(pl.col("data"))
    head = data.str.slice(0, 4).str.to_uppercase().is_in(_PREFIXES)
    # Sender/recipient acknowledgements ("250 2.1.0 Sender OK") never end a transaction.
    ack = data.str.starts_with("250 2.1.") | data.str.starts_with("250 XProxy")
    cmd = smtp & (head | data.str.slice(0, 1).is_in(["4", "5"])) & ~ack
    star = pl.when(event == "*").then(pl.col("context")).str.contains(_STAR)
    return cmd | star | (event == "-")


def _is_command() -> pl.Expr:
    """A command row: ``<`` in a receive log, ``>`` in a send log."""
    return (
        pl.when(pl.col("direction") == schema.SEND)
        .then(pl.col("event") == ">")
        .otherwise(pl.col("event") == "<")
    )


def _is_reply() -> pl.Expr:
    """A reply row: ``>`` in a receive log, ``<`` in a send log."""
    return (
        pl.when(pl.col("direction") == schema.SEND)
        .then(pl.col("event") == "<")
        .otherwise(pl.col("event") == ">")
    )


def _rank() -> pl.Expr:
    """Opener rank of a row (see module docstring), null for other rows. Literal and prefix
    tests only: this runs on every transaction row of the corpus."""
    star = pl.col("event") == "*"
    cmd = _is_command()
    # Each test reads only the rows of its kind (a masked row is null: never taken).
    txt = pl.when(star).then(pl.col("txt"))
    head = pl.when(cmd).then(pl.col("txt")).str.slice(0, 12).str.to_uppercase()
    return (
        pl.when(
            star
            & (
                txt.str.contains("Proxying inbound session with session id ", literal=True)
                | txt.str.contains("Proxied session id ", literal=True)
            )
        )
        .then(0)
        .when(cmd & (head.str.starts_with("XPROXY") | head.str.starts_with("XRSETPROXYTO")))
        .then(1)
        .when(star & txt.str.contains("sending message with RecordId ", literal=True))
        .then(2)
        .when(
            star
            & (pl.col("direction") == schema.RECEIVE)
            & txt.str.contains(_PROXIED_NOW, literal=True)
        )
        .then(2)
        .when(cmd & head.str.starts_with("MAIL FROM:"))
        .then(3)
        .otherwise(None)
        .cast(pl.Int8)
        .alias("rank")
    )


_SESSION: Final = ["server", "service", "direction", "session_id"]


def _idx() -> pl.Expr:
    return pl.int_range(pl.len(), dtype=pl.Int64)


def _group_start(keys: list[str]) -> pl.Expr:
    """True on the first row of each run of equal ``keys`` (the frame is sorted by them)."""
    first = _idx() == 0
    for k in keys:
        first = first | (pl.col(k) != pl.col(k).shift(1)).fill_null(True)
    return first


def _run_cum_sum(flag: pl.Expr, start: pl.Expr) -> pl.Expr:
    """Cumulative sum of ``flag`` restarting at each ``start`` row: a window function done
    with global scans (``over`` on tens of thousands of small groups is much slower)."""
    cs = flag.cast(pl.Int32).cum_sum()
    base = pl.when(start).then(cs - flag.cast(pl.Int32)).forward_fill()
    return cs - base


def _prev_in_run(col: pl.Expr, start: pl.Expr) -> pl.Expr:
    """The last non-null ``col`` strictly before this row within its run, else null."""
    last_idx = pl.when(col.is_not_null()).then(_idx()).shift(1).forward_fill()
    run_start = pl.when(start).then(_idx()).forward_fill()
    return pl.when(last_idx >= run_start).then(col.shift(1).forward_fill())


def _one_stream(frame: pl.DataFrame) -> bool:
    """All rows come from one (server, service, direction) stream (the build's case)."""
    return all(frame[c].n_unique() <= 1 for c in _SESSION[:3])


def tag_lines(lines: pl.LazyFrame) -> pl.LazyFrame:
    """Return the transaction-relevant lines with ``sess`` (an integer session number),
    ``txt``, ``rank`` and ``msg``.

    ``msg`` is the 0-based segment ordinal inside the session, -1 for the preamble.
    Pure column expressions over the rows sorted by session and seq: no Python per line.
    The string session key is built per segment later, not per line.
    """
    rows = (
        lines.filter(_relevant())
        .with_columns(_text(), pl.col("context").str.starts_with("receiving message").alias("_rm"))
        .with_columns(_rank())
        # ``txt`` carries the text from here on: the sort need not move the raw columns.
        .drop("data", "context", "local_ep", "remote_ep")
    )
    rows_df = rows.collect(engine=ENGINE)
    # Within one stream the session id alone orders the sessions: a sort on three fewer
    # string keys (less than half the cost).
    keys = _SESSION[3:] if _one_stream(rows_df) else _SESSION
    lf = (
        rows_df.lazy()
        .sort([*keys, "seq", "file_id", "line_no"])
        .with_columns(_group_start(keys).alias("_start"))
        .with_columns(pl.col("_start").cast(pl.Int32).cum_sum().alias("sess"))
    )
    start = pl.col("_start")
    rank = pl.col("rank")
    prev_rank = _prev_in_run(rank, start)
    # A split XPROXYTO (several commands, the last with LAST=True) is one opener.
    xpto = pl.col("txt").str.contains(r"(?i)^XPROXYTO ")
    last = pl.when(xpto).then(pl.col("txt")).str.contains("LAST=True", literal=True)
    open_xpto = pl.when(rank.is_not_null()).then(xpto & ~last)
    cont = xpto & _prev_in_run(open_xpto, start).fill_null(False)
    new = rank.is_not_null() & (prev_rank.is_null() | (rank <= prev_rank)) & ~cont
    return lf.with_columns((_run_cum_sum(new, start) - 1).cast(pl.Int32).alias("msg"))


def _reply_flags() -> list[pl.Expr]:
    """Replies, failure replies and replies after the data of a transaction (each test on
    the rows the previous one kept)."""
    txt = pl.col("txt")
    reply = _is_reply() & pl.when(_is_reply()).then(txt).str.contains(_REPLY)
    return [
        reply.alias("_reply"),
        (reply & pl.when(reply).then(txt).str.contains(r"^[45]\d\d")).alias("_fail"),
        (reply & (pl.col("_after_data") > 0) & ~txt.str.starts_with("354")).alias("_drep"),
    ]


def _reply_picks() -> list[pl.Expr]:
    """The first reply after the data and the last failure of each segment."""
    start = pl.col("_seg_start")
    data_reply, fail = pl.col("_drep"), pl.col("_fail")
    # The last failure of a segment: its running count equals the segment's total.
    run = _run_cum_sum(fail, start)
    seg_end = start.shift(-1).fill_null(True)
    return [
        (data_reply & (_run_cum_sum(data_reply, start) == 1)).alias("_first_data"),
        (fail & (run == pl.when(seg_end).then(run).backward_fill())).alias("_last_fail"),
    ]


def _row_values() -> list[pl.Expr]:
    """Per-row values extracted before aggregating (vectorized over all rows); each is
    null except on the row that carries it."""
    txt = pl.col("txt")
    cmd = _is_command()
    first_data, last_fail = pl.col("_first_data"), pl.col("_last_fail")
    rank = pl.col("rank")
    head7 = pl.when(rank == 1).then(txt).str.slice(0, 7).str.to_uppercase()
    xproxy = (rank == 1) & head7.is_in(["XPROXY ", "XPROXYF"])
    # Mask first, extract after: a regex then runs only on the rows that can match.
    on = {
        "mail": pl.when(rank == 3).then(txt),
        "rcpt": pl.when(
            cmd & pl.when(cmd).then(txt).str.slice(0, 4).str.to_uppercase().eq("RCPT")
        ).then(txt),
        "mid": pl.when(
            txt.str.contains("InternetMessageId", literal=True) | txt.str.starts_with("250 2.6.0 ")
        ).then(txt),
        "open": pl.when(rank == 0).then(txt),
        "xproxy": pl.when(xproxy).then(txt),
        "up": pl.when(rank <= 1).then(txt),
        "rec": pl.when(rank == 2).then(txt),
        "tn": pl.when(pl.col("_rm")).then(txt),
    }
    return [
        pl.when(first_data).then(txt).alias("_rdata"),
        pl.when(first_data).then(pl.col("ts")).alias("_tdata"),
        pl.when(last_fail).then(txt).alias("_rfail"),
        pl.when(last_fail).then(pl.col("ts")).alias("_tfail"),
        _address(on["mail"], _MAILADDR).alias("_mail"),
        _address(on["rcpt"], _RCPT).alias("_rcpt"),
        on["mid"].str.extract(_MSGID, 1).alias("_mid"),
        on["open"].str.extract(_PROXYING, 1).alias("_proxying"),
        on["open"].str.extract(_PROXIED, 1).alias("_proxied"),
        on["xproxy"].str.extract(r"\bSID=" + SID, 1).alias("_xsid"),
        on["xproxy"].str.extract(r"\bIP=(\S+)", 1).alias("_xip"),
        on["xproxy"].str.extract(r"\bPORT=(\d+)", 1).alias("_xport"),
        on["up"].str.extract(_SESSIONID, 1).alias("_up"),
        on["rec"].str.extract(_SENDING, 1).alias("_rec"),
        on["tn"].str.extract(_TEMP_ID, 3).cast(pl.Int32, strict=False).alias("_tn"),
    ]


def _segment_aggs() -> list[pl.Expr]:
    """Aggregations from a segment's rows to its MESSAGES row: only fast-path aggregations
    (first/min/max, list) over the values :func:`_row_values` extracted. A value appears
    once in a transaction, so ``max`` picks it."""
    return [
        pl.col("ts").min().alias("start"),
        pl.col("ts").max().alias("_last"),
        pl.col("seq").min().alias("seq"),
        pl.col("_mail_ord").max().alias("mail_ord"),
        pl.col("server").first(),
        pl.col("service").first(),
        pl.col("direction").first(),
        pl.col("session_id").first(),
        pl.col("connector").first(),
        pl.col("_mail").max().alias("mail_from"),
        pl.col("_rcpt"),
        pl.col("_mid").max().alias("message_id"),
        pl.col("_rdata").max(),
        pl.col("_tdata").max(),
        pl.col("_rfail").max(),
        pl.col("_tfail").max(),
        pl.col("_proxying").max(),
        pl.col("_proxied").max(),
        pl.col("_xsid").max().alias("xproxy_sid"),
        pl.col("_xip").max(),
        pl.col("_xport").max(),
        pl.col("_up").max().alias("upstream_sid"),
        pl.col("_rec").max().alias("record_id"),
        pl.col("_tn").max().alias("temp_n"),
    ]


def _finish(seg: pl.LazyFrame, mdb: pl.LazyFrame) -> pl.LazyFrame:
    """Derive reply ids, the proxied session id and the schema columns of the segments."""
    iid = pl.col("reply").str.extract(_IID, 1)
    host = pl.col("reply").str.extract(_IID, 2)
    # 2013 CU23 swaps the arguments in "Queued mail for redundancy" replies (§3.6).
    swapped = iid.str.contains(r"\D") & host.str.contains(r"^\d+$")
    # Written like the receive log's remote endpoint: IPv6 in brackets.
    ip = pl.when(pl.col("_xip").str.contains(":")).then(pl.format("[{}]", "_xip"))
    ep = pl.concat_str([ip.otherwise(pl.col("_xip")), pl.col("_xport")], separator=":")
    return (
        seg.with_columns(
            pl.when(swapped).then(host).otherwise(iid).alias("reply_iid"),
            pl.when(swapped).then(iid).otherwise(host).alias("reply_host"),
            pl.col("reply").str.extract(r"^(\d{3})", 1).cast(pl.Int16, strict=False).alias("code"),
            pl.col("reply")
            .str.contains("Queued mail for redundancy")
            .fill_null(False)
            .alias("redundancy"),
            pl.coalesce("_proxying", "_proxied").str.to_uppercase().alias("proxied_sid"),
            pl.col("xproxy_sid").str.to_uppercase(),
            pl.col("upstream_sid").str.to_uppercase(),
            ep.alias("xproxy_ep"),
        )
        .with_columns(
            pl.when(pl.col("direction") == schema.SEND)
            .then(pl.col("record_id"))
            .otherwise(pl.col("reply_iid"))
            .alias("internal_id")
        )
        .join(mdb, on="sess", how="left")
    )


def build_messages(lines: pl.LazyFrame) -> pl.DataFrame:
    """Return one row per message transaction (segment) of every SMTP session.

    Columns: schema.MESSAGES plus :data:`EXTRA`. Sessions without any opener (probes,
    connect-quit) have no row.
    """
    tagged = tag_lines(lines).collect(engine=ENGINE).lazy()
    mdb = (
        tagged.filter(pl.col("txt").str.contains(_MDBGUID))
        .group_by("sess")
        .agg(pl.col("txt").str.extract(_MDBGUID, 1).str.to_lowercase().first().alias("mdbguid"))
    )
    seg_start = _group_start(["sess", "msg"])
    is_mail = pl.col("rank") == 3
    seg = (
        tagged.filter(pl.col("msg") >= 0)
        .with_columns(seg_start.alias("_seg_start"), _group_start(["sess"]).alias("_key_start"))
        .with_columns(
            pl.when(is_mail)
            .then(_run_cum_sum(is_mail, pl.col("_key_start")) - 1)
            .alias("_mail_ord"),
            _run_cum_sum(pl.col("txt").str.contains(_DATA_END), pl.col("_seg_start")).alias(
                "_after_data"
            ),
        )
        .with_columns(_reply_flags())
        .with_columns(_reply_picks())
        .with_columns(_row_values())
        .group_by(["sess", "msg"])
        .agg(_segment_aggs())
        .with_columns(schema.session_key_expr())
        .with_columns(
            pl.coalesce("_rdata", "_rfail").alias("reply"),
            # The transaction ends at its final reply, not at a QUIT minutes later.
            pl.coalesce("_tdata", "_tfail", "_last").alias("end"),
            pl.col("_rcpt").list.drop_nulls().list.unique(maintain_order=True).alias("rcpt_to"),
        )
    )
    out = _finish(seg, mdb).select([pl.col(c).cast(t) for c, t in COLUMNS.items()])
    return out.sort(["key", "msg"]).collect(engine=ENGINE)


def _address(expr: pl.Expr, pattern: str) -> pl.Expr:
    """The address of a MAIL FROM / RCPT TO command: inside <...>, else the bare word."""
    inside = expr.str.extract(pattern, 1)
    # The bare-word form only where the bracketed one did not match (rare).
    return pl.coalesce(inside, pl.when(inside.is_null()).then(expr).str.extract(pattern, 2))
