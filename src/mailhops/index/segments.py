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
# The address is everything inside <...> (an Internet client may put spaces or markup in
# it; sessions.py reads it the same way), or the bare word when a client sent no brackets.
# (One pattern with both forms as alternatives costs three times as much a row.)
_RCPT_IN: Final = r"(?i)^RCPT TO:\s*<([^>]*)>"
_RCPT_BARE: Final = r"(?i)^RCPT TO:\s*([^\s<>]+)"
_MAIL_IN: Final = r"(?i)^MAIL FROM:\s*<([^>]*)>"
_MAIL_BARE: Final = r"(?i)^MAIL FROM:\s*([^\s<>]+)"
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


def _one_of(expr: pl.Expr, values: list[str]) -> pl.Expr:
    """``expr.is_in(values)`` for two or three short strings, as equality tests: cheaper
    than hashing every row for a set lookup (null stays null)."""
    out = expr == values[0]
    for v in values[1:]:
        out = out | (expr == v)
    return out


def _smtp() -> pl.Expr:
    """An SMTP command or reply row (``<`` or ``>``)."""
    return _one_of(pl.col("event"), ["<", ">"])  # two comparisons: cheaper than a lookup


def _text() -> pl.Expr:
    """The searchable text of a row: data, plus context for ``*`` rows."""
    return (
        pl.when(pl.col("event") == "*")
        .then(pl.concat_str([pl.col("data"), pl.col("context")], separator=" ", ignore_nulls=True))
        .otherwise(pl.col("data").fill_null(""))
        .alias("txt")
    )


def _heads() -> list[list[pl.Expr]]:
    """``_smtp`` (an SMTP command or reply row) and ``_h4``, the first four characters
    (upper-cased) of its text, in the steps that read each other. Kept as columns: the
    relevance test, the opener rank and the recipient test all read them. Only whether
    ``_h4`` is one of _PREFIXES (or which one) matters."""
    return [
        [_smtp().alias("_smtp")],
        [pl.when("_smtp").then(pl.col("data")).str.slice(0, 4).str.to_uppercase().alias("_h4")],
    ]


def _relevant() -> pl.Expr:
    """Rows that can matter to a transaction: commands, final-ish replies (not banners or
    EHLO lines) and the known ``*`` lines (their text is in the context column). Each test
    runs only on the rows of its event (a masked row is null, and null never passes).
    Reads :func:`_heads`."""
    event = pl.col("event")
    smtp, head4 = pl.col("_smtp"), pl.col("_h4")
    data = pl.when(smtp).then(pl.col("data"))
    head = head4.is_in(_PREFIXES)
    # Sender/recipient acknowledgements ("250 2.1.0 Sender OK") never end a transaction;
    # only rows that start "250 " are tested.
    acked = pl.when(head4 == "250 ").then(data)
    ack = acked.str.starts_with("250 2.1.") | acked.str.starts_with("250 XProxy")
    failure = data.str.starts_with("4") | data.str.starts_with("5")
    cmd = smtp & (head | failure) & ~ack.fill_null(False)
    star = pl.when(event == "*").then(pl.col("context")).str.contains(_STAR)
    return cmd | star | (event == "-")


def _event_flags() -> list[pl.Expr]:
    """``_cmd``, ``_rep`` and ``_star``: the event tests the later steps read, computed
    once (each would otherwise compare every row's strings again)."""
    return [
        _is_command().alias("_cmd"),
        _is_reply().alias("_rep"),
        (pl.col("event") == "*").alias("_star"),
    ]


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


#: The ``*`` lines that open a transaction (ranks 0 and 2).
_PROXYING_LIT: Final = ("Proxying inbound session with session id ", "Proxied session id ")
_SENDING_LIT: Final = "sending message with RecordId "
#: Command prefixes of the openers (ranks 1 and 3), as the upper-cased text starts.
_XPROXY_HEADS: Final = ("XPROXY", "XRSETPROXYTO")
_MAIL_HEAD: Final = "MAIL FROM:"


def _rank_tests() -> list[list[pl.Expr]]:
    """The tests :func:`_rank` combines, in steps (a test read twice is a column, not an
    expression polars would evaluate twice). Each test reads only the rows of its kind (a
    masked row is null: never taken). Literal and prefix tests only: this runs on every
    transaction row of the corpus."""
    star = pl.col("_star")
    txt = pl.col("txt")
    # One scan for any of the opener texts; the test of each reads the rows it kept.
    hit = pl.when(star).then(txt).str.contains_any([*_PROXYING_LIT, _SENDING_LIT, _PROXIED_NOW])
    # A relevant command whose upper-cased text starts like an opener has one of these
    # heads (upper-casing maps one character at a time).
    opener = pl.col("_cmd") & _one_of(pl.col("_h4"), ["XPRO", "XRSE", "MAIL"])
    on_star, on_cmd = pl.when(pl.col("_hit")).then(txt), pl.when(pl.col("_opener")).then(txt)
    # Text already upper-case (nearly every command) needs no upper-casing to pass.
    exact = pl.col("_exact1") | pl.col("_exact3")
    head = pl.when(pl.col("_opener") & ~exact).then(txt).str.slice(0, 12).str.to_uppercase()
    return [
        [hit.alias("_hit"), opener.alias("_opener")],
        [
            on_star.str.contains(_PROXYING_LIT[0], literal=True)
            .or_(on_star.str.contains(_PROXYING_LIT[1], literal=True))
            .alias("_r0"),
            on_star.str.contains(_SENDING_LIT, literal=True)
            .or_(
                (pl.col("direction") == schema.RECEIVE)
                & on_star.str.contains(_PROXIED_NOW, literal=True)
            )
            .alias("_r2"),
            on_cmd.str.starts_with(_XPROXY_HEADS[0])
            .or_(on_cmd.str.starts_with(_XPROXY_HEADS[1]))
            .alias("_exact1"),
            on_cmd.str.starts_with(_MAIL_HEAD).alias("_exact3"),
        ],
        [head.alias("_head")],
    ]


def _rank() -> pl.Expr:
    """Opener rank of a row (see module docstring), null for other rows; reads the
    columns of :func:`_rank_tests`."""
    head = pl.col("_head")
    r1 = pl.col("_exact1") | head.str.starts_with(_XPROXY_HEADS[0])
    r1 = r1 | head.str.starts_with(_XPROXY_HEADS[1])
    r3 = pl.col("_exact3") | head.str.starts_with(_MAIL_HEAD)
    return (
        pl.when(pl.col("_r0"))
        .then(0)
        .when(r1)
        .then(1)
        .when(pl.col("_r2"))
        .then(2)
        .when(r3)
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
    same = [pl.col(c).eq_missing(pl.col(c).first()).all() for c in _SESSION[:3]]
    return frame.height == 0 or bool(frame.select(pl.all_horizontal(same)).item())


_LINE_ORDER: Final = ["seq", "file_id", "line_no"]


def _session_order(rows: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """``rows`` sorted by session (``keys``), then seq, file and line, with ``_start`` on
    the first row of each session.

    A stream's lines come in file order, which is nearly always each session's own
    order: a stable sort by session alone is then the whole sort (a quarter cheaper than
    sorting on four keys). Checked, and sorted on every key when any session is not."""
    by_session = rows.sort(keys, maintain_order=True).with_columns(
        _group_start(keys).alias("_start")
    )
    # Each row after its session's first comes strictly after the previous one.
    later = pl.lit(False)
    for c in reversed(_LINE_ORDER):
        prev = pl.col(c).shift(1)
        later = (pl.col(c) > prev) | ((pl.col(c) == prev) & later)
    if by_session.select((pl.col("_start") | later).fill_null(False).all()).item():
        return by_session
    return rows.sort([*keys, *_LINE_ORDER]).with_columns(_group_start(keys).alias("_start"))


def tag_lines(lines: pl.LazyFrame) -> pl.LazyFrame:
    """Return the transaction-relevant lines with ``sess`` (an integer session number),
    ``txt``, ``rank`` and ``msg``.

    ``msg`` is the 0-based segment ordinal inside the session, -1 for the preamble.
    Pure column expressions over the rows sorted by session and seq: no Python per line.
    The string session key is built per segment later, not per line.
    """
    tests = _rank_tests()
    heads = _heads()
    rows = (
        lines.with_columns(heads[0])
        .with_columns(heads[1])
        .filter(_relevant())
        .with_columns(
            _text(),
            *_event_flags(),
            pl.col("context").str.starts_with("receiving message").alias("_rm"),
        )
        .with_columns(tests[0])
        .with_columns(tests[1])
        .with_columns(tests[2])
        .with_columns(_rank())
        # ``txt`` carries the text from here on: the sort need not move the raw columns.
        .drop("data", "context", "local_ep", "remote_ep", "event", "_smtp")
        .drop("_hit", "_opener", "_r0", "_r2", "_exact1", "_exact3", "_head")
    )
    rows_df = rows.collect(engine=ENGINE)
    # Within one stream the session id alone orders the sessions: a sort on three fewer
    # string keys (less than half the cost).
    keys = _SESSION[3:] if _one_stream(rows_df) else _SESSION
    start, rank, xpto = pl.col("_start"), pl.col("rank"), pl.col("_xpto")
    # polars evaluates a sub-expression once per use: every step that is read twice is a
    # column of its own (computing ``msg`` in one expression cost five times as much).
    return (
        _session_order(rows_df, keys)
        .lazy()
        .with_columns(
            pl.col("_start").cast(pl.Int32).cum_sum().alias("sess"),
            # A split XPROXYTO (several commands, the last with LAST=True) is one opener;
            # only an opener row can open or continue one.
            pl.when(rank.is_not_null())
            .then(pl.col("txt"))
            .str.contains(r"(?i)^XPROXYTO ")
            .alias("_xpto"),
        )
        .with_columns(
            _prev_in_run(rank, start).alias("_prev_rank"),
            _prev_in_run(
                xpto & ~pl.when(xpto).then(pl.col("txt")).str.contains("LAST=True", literal=True),
                start,
            ).alias("_open_xpto"),
        )
        .with_columns(
            (
                rank.is_not_null()
                & (pl.col("_prev_rank").is_null() | (rank <= pl.col("_prev_rank")))
                & ~(xpto & pl.col("_open_xpto").fill_null(False))
            ).alias("_new")
        )
        .with_columns((_run_cum_sum(pl.col("_new"), start) - 1).cast(pl.Int32).alias("msg"))
        .drop("_xpto", "_prev_rank", "_open_xpto", "_new")
    )


def _reply_flags() -> list[list[pl.Expr]]:
    """Replies, failure replies and replies after the data of a transaction (each test on
    the rows the previous one kept), in the steps that read each other's columns."""
    txt, reply = pl.col("txt"), pl.col("_reply")
    return [
        [(pl.col("_rep") & pl.when("_rep").then(txt).str.contains(_REPLY)).alias("_reply")],
        [
            (reply & pl.when(reply).then(txt).str.contains(r"^[45]\d\d")).alias("_fail"),
            (reply & (pl.col("_after_data") > 0) & ~txt.str.starts_with("354")).alias("_drep"),
        ],
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


def _carriers() -> list[pl.Expr]:
    """The text of the rows that can carry a recipient or a Message-ID (null elsewhere):
    a regex then runs only on the rows that can match, and the masks are computed once."""
    txt = pl.col("txt")
    return [
        pl.when(pl.col("_cmd") & (pl.col("_h4") == "RCPT")).then(txt).alias("_on_rcpt"),
        pl.when(
            txt.str.contains("InternetMessageId", literal=True) | txt.str.starts_with("250 2.6.0 ")
        )
        .then(txt)
        .alias("_on_mid"),
    ]


def _row_values() -> list[pl.Expr]:
    """Per-row values extracted before aggregating (vectorized over all rows); each is
    null except on the row that carries it (:func:`_carriers`). The openers' values come
    from :func:`_opener_values`."""
    txt = pl.col("txt")
    first_data, last_fail = pl.col("_first_data"), pl.col("_last_fail")
    return [
        pl.when(first_data).then(txt).alias("_rdata"),
        pl.when(first_data).then(pl.col("ts")).alias("_tdata"),
        pl.when(last_fail).then(txt).alias("_rfail"),
        pl.when(last_fail).then(pl.col("ts")).alias("_tfail"),
        pl.col("_on_rcpt").str.extract(_RCPT_IN, 1).alias("_rcpt"),
        pl.col("_on_mid").str.extract(_MSGID, 1).alias("_mid"),
        pl.when(pl.col("_rm"))
        .then(txt)
        .str.extract(_TEMP_ID, 3)
        .cast(pl.Int32, strict=False)
        .alias("_tn"),
    ]


def _bare_address(name: str, on: pl.Expr, bare: str) -> pl.Expr:
    """The bare-word address of a MAIL FROM / RCPT TO without brackets (``on``: its text),
    only where the bracketed form (column ``name``) did not match (rare)."""
    return pl.coalesce(name, pl.when(pl.col(name).is_null()).then(on).str.extract(bare, 1))


def _segment_aggs() -> list[pl.Expr]:
    """Aggregations from a segment's rows to its MESSAGES row: only fast-path aggregations
    (first/min/max, list) over the values :func:`_row_values` extracted. A value appears
    once in a transaction, so ``max`` picks it."""
    return [
        pl.col("sess").first(),
        pl.col("msg").first(),
        pl.col("ts").min().alias("start"),
        pl.col("ts").max().alias("_last"),
        pl.col("seq").min().alias("seq"),
        pl.col("_mail_ord").max().alias("mail_ord"),
        pl.col("server").first(),
        pl.col("service").first(),
        pl.col("direction").first(),
        pl.col("session_id").first(),
        pl.col("connector").first(),
        pl.col("_rcpt").drop_nulls().unique(maintain_order=True).alias("rcpt_to"),
        pl.col("_mid").max().alias("message_id"),
        pl.col("_rdata").max(),
        pl.col("_tdata").max(),
        pl.col("_rfail").max(),
        pl.col("_tfail").max(),
        pl.col("_tn").max().alias("temp_n"),
    ]


def _opener_values(rows: pl.LazyFrame) -> pl.LazyFrame:
    """The values a segment takes from its openers (ranked rows, about a quarter of the
    rows), by ``_seg``: cut out of the segment rows first, so that each test reads these
    rows only (a test on a masked column still visits every row of the frame)."""
    txt, rank = pl.col("txt"), pl.col("rank")
    head7 = pl.when(rank == 1).then(txt).str.slice(0, 7).str.to_uppercase()
    opener, xproxy = pl.when(rank == 0).then(txt), pl.when(pl.col("_xproxy")).then(txt)
    on_mail = pl.when(rank == 3).then(txt)
    values = (
        rows.filter(rank.is_not_null())
        .select("_seg", "rank", "txt")
        .with_columns(
            ((rank == 1) & head7.is_in(["XPROXY ", "XPROXYF"])).alias("_xproxy"),
            on_mail.str.extract(_MAIL_IN, 1).alias("_mail"),
        )
        .with_columns(
            _bare_address("_mail", on_mail, _MAIL_BARE),
            opener.str.extract(_PROXYING, 1).alias("_proxying"),
            opener.str.extract(_PROXIED, 1).alias("_proxied"),
            xproxy.str.extract(r"\bSID=" + SID, 1).alias("xproxy_sid"),
            xproxy.str.extract(r"\bIP=(\S+)", 1).alias("_xip"),
            xproxy.str.extract(r"\bPORT=(\d+)", 1).alias("_xport"),
            pl.when(rank <= 1).then(txt).str.extract(_SESSIONID, 1).alias("upstream_sid"),
            pl.when(rank == 2).then(txt).str.extract(_SENDING, 1).alias("record_id"),
        )
    )
    names = ["_proxying", "_proxied", "xproxy_sid", "_xip", "_xport", "upstream_sid", "record_id"]
    return values.group_by("_seg", maintain_order=True).agg(
        pl.col("_mail").max().alias("mail_from"), *[pl.col(n).max() for n in names]
    )


def _finish(seg: pl.LazyFrame, mdb: pl.LazyFrame) -> pl.LazyFrame:
    """Derive reply ids, the proxied session id and the schema columns of the segments."""
    iid, host = pl.col("_iid"), pl.col("_host")
    # 2013 CU23 swaps the arguments in "Queued mail for redundancy" replies (§3.6).
    swapped = pl.col("_swapped")
    # Written like the receive log's remote endpoint: IPv6 in brackets.
    ip = pl.when(pl.col("_xip").str.contains(":")).then(pl.format("[{}]", "_xip"))
    ep = pl.concat_str([ip.otherwise(pl.col("_xip")), pl.col("_xport")], separator=":")
    return (
        # Both ids from one match (extract_groups: one regex pass, not two).
        seg.with_columns(pl.col("reply").str.extract_groups(_IID).alias("_ids"))
        .with_columns(
            pl.col("_ids").struct.field("1").alias("_iid"),
            pl.col("_ids").struct.field("2").alias("_host"),
        )
        .with_columns((iid.str.contains(r"\D") & host.str.contains(r"^\d+$")).alias("_swapped"))
        .with_columns(
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
    is_mail = pl.col("rank") == 3
    start = pl.col("_seg_start")
    flags = _reply_flags()
    rows = (
        tagged.filter(pl.col("msg") >= 0)
        .with_columns(
            _group_start(["sess", "msg"]).alias("_seg_start"),
            _group_start(["sess"]).alias("_key_start"),
            pl.col("txt").str.contains(_DATA_END).alias("_data_end"),
        )
        .with_columns(
            pl.col("_seg_start").cast(pl.UInt32).cum_sum().alias("_seg"),
            pl.when(is_mail)
            .then(_run_cum_sum(is_mail, pl.col("_key_start")) - 1)
            .alias("_mail_ord"),
            _run_cum_sum(pl.col("_data_end"), start).alias("_after_data"),
        )
        .with_columns(flags[0])
        .with_columns(flags[1])
        .with_columns(_reply_picks())
        .collect(engine=ENGINE)
        .lazy()
    )
    seg = (
        rows.with_columns(_carriers())
        .with_columns(_row_values())
        .with_columns(_bare_address("_rcpt", pl.col("_on_rcpt"), _RCPT_BARE).alias("_rcpt"))
        # The rows are in segment order: keeping it is cheaper than hashing.
        .group_by("_seg", maintain_order=True)
        .agg(_segment_aggs())
        .join(_opener_values(rows), on="_seg", how="left", maintain_order="left")
        .with_columns(schema.session_key_expr())
        .with_columns(
            pl.coalesce("_rdata", "_rfail").alias("reply"),
            # The transaction ends at its final reply, not at a QUIT minutes later.
            pl.coalesce("_tdata", "_tfail", "_last").alias("end"),
        )
    )
    out = _finish(seg, mdb).select([pl.col(c).cast(t) for c, t in COLUMNS.items()])
    return out.sort(["key", "msg"]).collect(engine=ENGINE)
