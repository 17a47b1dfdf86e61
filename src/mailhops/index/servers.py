"""Server identity: one short name per server, with the FQDNs and IP addresses it goes by.

The logs name a server in several ways (log-formats.md §3.8): the receive connector id
(``SERVER\\Connector``, already resolved into the ``server`` column), the local endpoint of its
receive sessions, its 220 banner (``220 fqdn Microsoft ESMTP MAIL Service ready``), the
``Hostname=`` of queued replies, the tracking ``server-hostname``/``server-ip``, and the 220
banner a remote server sent to one of our send sessions. What the logs cannot tell (NAT, load
balancer virtual IPs, renamed hosts) comes from an optional servers file.

Servers file (``--servers FILE``), one server a line, ``#`` starts a comment::

    # NAME   aliases (FQDNs, other names) and IP addresses, in any order
    EX1      ex1.contoso.com 10.0.3.4 192.0.2.10
    EX3      ex3.contoso.com mail.contoso.com 10.0.3.6

or JSON: ``{"EX1": ["ex1.contoso.com", "10.0.3.4"], ...}``. File entries win over what the
logs say.
"""

from __future__ import annotations

import codecs
import ipaddress
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import polars as pl

from mailhops.index import schema

#: Alias table: every name or IP (lower case) a server answers to.
ALIASES: Final[dict[str, pl.DataType]] = {
    "alias": pl.String(),
    "server": pl.String(),
    "kind": pl.String(),  # short|fqdn|ip
    "source": pl.String(),  # file|connector|endpoint|banner|tracking|remote-banner
}

_IP_PORT: Final = r"^\[?([0-9A-Fa-f.:]+?)(?:%[^\]]*)?\]?:\d+$"
_BANNER: Final = r"^220 ([A-Za-z][A-Za-z0-9.\-]*)\b"  # not "220 2.0.0 SMTP server ready"
_LOOPBACK: Final = ("127.", "::1", "0.0.0.0", "")


class ServersFileError(ValueError):
    """The servers file could not be read; the message names the file and line."""


def ip_of(ep: pl.Expr) -> pl.Expr:
    """The IP address of an ``ip:port`` / ``[v6]:port`` endpoint expression."""
    return ep.str.extract(_IP_PORT, 1).str.to_lowercase()


def _is_ip(token: str) -> bool:
    try:
        ipaddress.ip_address(token)
    except ValueError:
        return False
    return True


def _entry_rows(name: str, tokens: list[str]) -> list[tuple[str, str, str, str]]:
    server = name.upper()
    rows = [(server.lower(), server, "short", "file")]
    for tok in tokens:
        kind = "ip" if _is_ip(tok) else "fqdn"
        rows.append((tok.lower(), server, kind, "file"))
    return rows


def read_servers_file(path: str | Path) -> pl.DataFrame:
    """Parse a servers file (text or JSON, see module docstring) into the ALIASES table."""
    p = Path(path)
    try:
        raw = p.read_bytes()
        # Windows PowerShell 5.1 writes UTF-16 with a BOM (Out-File, >); others UTF-8.
        utf16 = raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
        text = raw.decode("utf-16" if utf16 else "utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ServersFileError(f"{p}: cannot read servers file: {exc}") from exc
    rows: list[tuple[str, str, str, str]] = []
    if text.lstrip().startswith("["):
        raise ServersFileError(f'{p}: a JSON servers file is an object: {{"EX1": ["names"]}}')
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ServersFileError(f"{p}:{exc.lineno}: invalid JSON: {exc.msg}") from exc
        for name, tokens in data.items():
            if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
                raise ServersFileError(f"{p}: {name!r} must map to a list of strings")
            rows += _entry_rows(str(name), tokens)
    else:
        for no, line in enumerate(text.splitlines(), 1):
            words = line.split("#", 1)[0].split()
            if not words:
                continue
            if _is_ip(words[0]):
                raise ServersFileError(f"{p}:{no}: a line starts with the server name")
            rows += _entry_rows(words[0], words[1:])
    return pl.DataFrame(rows, schema=ALIASES, orient="row")


#: The LINES columns :func:`learn_servers` reads.
SERVER_COLUMNS: Final = ["server", "direction", "event", "local_ep", "remote_ep", "data"]


def server_lines(lines: pl.LazyFrame) -> pl.LazyFrame:
    """The protocol lines :func:`learn_servers` reads, reduced to what it reads of them: a
    receive session's ``+`` row (its local endpoint) and every 220 greeting (with the remote
    endpoint on the send side), distinct. A few rows a server, so the build keeps them while
    each stream is in memory instead of scanning the corpus again."""
    event = pl.col("event")
    receive = pl.col("direction") == schema.RECEIVE
    greeting = event.is_in(["<", ">"]) & pl.col("data").str.starts_with("220 ")
    plus = (event == "+") & receive
    return (
        lines.filter(plus | greeting)
        .select(
            "server",
            "direction",
            "event",
            pl.when(plus).then(pl.col("local_ep")).alias("local_ep"),
            pl.when(greeting & ~receive).then(pl.col("remote_ep")).alias("remote_ep"),
            pl.when(greeting).then(pl.col("data")).alias("data"),
        )
        .unique()
    )


def _from_lines(lines: pl.LazyFrame) -> pl.LazyFrame:
    """Aliases learned from protocol logs: local IPs and 220 banners of receive sessions."""
    recv = lines.filter((pl.col("direction") == schema.RECEIVE) & (pl.col("server") != ""))
    # One ``+`` row a session is enough for its local endpoint.
    local_ip = (
        recv.filter(pl.col("event") == "+")
        .select("server", "local_ep")
        .unique()
        .select(
            ip_of(pl.col("local_ep")).alias("alias"),
            pl.col("server"),
            pl.lit("ip").alias("kind"),
            pl.lit("endpoint").alias("source"),
        )
    )
    banner = recv.filter((pl.col("event") == ">") & pl.col("data").str.starts_with("220 ")).select(
        pl.col("data").str.extract(_BANNER, 1).str.to_lowercase().alias("alias"),
        pl.col("server"),
        pl.lit("fqdn").alias("kind"),
        pl.lit("banner").alias("source"),
    )
    return pl.concat([local_ip, banner]).drop_nulls("alias").unique()


def _remote_banners(lines: pl.LazyFrame) -> pl.LazyFrame:
    """(ip, fqdn) pairs from the 220 banner a remote server sent to our send sessions."""
    return (
        lines.filter(
            (pl.col("direction") == schema.SEND)
            & (pl.col("event") == "<")
            & pl.col("data").str.starts_with("220 ")
        )
        .select(
            ip_of(pl.col("remote_ep")).alias("ip"),
            pl.col("data").str.extract(_BANNER, 1).str.to_lowercase().alias("fqdn"),
        )
        .drop_nulls()
        .unique()
    )


def _from_tracking(tracking: pl.LazyFrame) -> pl.LazyFrame:
    """Aliases from tracking RECEIVE/DELIVER rows: server-hostname and server-ip are local."""
    rows = tracking.filter(
        pl.col("event_id").is_in(["RECEIVE", "DELIVER"]) & (pl.col("source") != "STOREDRIVER")
    )
    host = rows.select(
        pl.col("server_hostname").str.to_lowercase().alias("alias"),
        pl.col("server"),
        pl.lit("fqdn").alias("kind"),
        pl.lit("tracking").alias("source"),
    )
    ip = rows.select(
        pl.col("server_ip").str.to_lowercase().alias("alias"),
        pl.col("server"),
        pl.lit("ip").alias("kind"),
        pl.lit("tracking").alias("source"),
    )
    return pl.concat([host, ip]).filter(pl.col("server") != "").drop_nulls("alias").unique()


@dataclass
class ServerMap:
    """Every alias (short name, FQDN, IP; lower case) -> server short name (upper case)."""

    aliases: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=ALIASES))
    _lookup: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._lookup = dict(
            zip(self.aliases["alias"].to_list(), self.aliases["server"].to_list(), strict=True)
        )

    def resolve(self, name: str | None) -> str | None:
        """Server short name for a name, FQDN, IP or ``ip:port``; None when unknown."""
        if not name:
            return None
        low = name.strip().lower()
        if low in self._lookup:
            return self._lookup[low]
        bare = low.rsplit(":", 1)[0].strip("[]") if low.count(":") == 1 or "]:" in low else low
        if bare in self._lookup:
            return self._lookup[bare]
        return self._lookup.get(low.split(".", 1)[0])

    def ip_table(self) -> pl.DataFrame:
        """(ip, peer_server) for joins: every IP alias."""
        return self.aliases.filter(pl.col("kind") == "ip").select(
            pl.col("alias").alias("ip"), pl.col("server").alias("peer_server")
        )

    def name_table(self) -> pl.DataFrame:
        """(name, host_server): short names and FQDNs, for ``Hostname=`` joins."""
        return self.aliases.filter(pl.col("kind") != "ip").select(
            pl.col("alias").alias("name"), pl.col("server").alias("host_server")
        )


def learn_servers(
    lines: pl.LazyFrame,
    tracking: pl.LazyFrame | None = None,
    servers_file: str | Path | None = None,
) -> ServerMap:
    """Learn every server's aliases from the logs, then apply the servers file on top."""
    parts = [_from_lines(lines), _remote_banners(lines)]
    if tracking is not None:
        parts.append(_from_tracking(tracking))
    # One pass over the (lazy, Parquet-backed) inputs; the rest is on small frames.
    got = pl.collect_all(parts)  # streaming scans of the Parquet parts: faster here
    learned = pl.concat([got[0], *got[2:]]).filter(
        ~pl.col("alias").str.starts_with("127.") & ~pl.col("alias").is_in(list(_LOOPBACK))
    )
    shorts = learned.select(
        pl.col("server").str.to_lowercase().alias("alias"),
        pl.col("server"),
        pl.lit("short").alias("kind"),
        pl.lit("connector").alias("source"),
    ).unique()
    # A remote banner's FQDN whose first label is a known server gives that server's IP.
    remote = (
        got[1]
        .with_columns(pl.col("fqdn").str.split(".").list.first().alias("short"))
        .join(shorts.select(pl.col("alias").alias("short"), "server"), on="short")
    )
    via_banner = pl.concat(
        [
            remote.select(pl.col("ip").alias("alias"), "server", pl.lit("ip").alias("kind")),
            remote.select(pl.col("fqdn").alias("alias"), "server", pl.lit("fqdn").alias("kind")),
        ]
    ).with_columns(pl.lit("remote-banner").alias("source"))
    table = pl.concat([shorts, learned, via_banner]).select(list(ALIASES))
    if servers_file is not None:
        table = pl.concat([read_servers_file(servers_file), table])
    # First wins: file entries, then what the server says of itself, then what peers say.
    table = table.unique(subset="alias", keep="first", maintain_order=True)
    return ServerMap(table.cast(ALIASES))  # type: ignore[arg-type]
