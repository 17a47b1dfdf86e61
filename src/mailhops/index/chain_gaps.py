"""Gaps: the hops a chain must contain but that no log recorded, with the stream, the server
and the command that turns that stream's logging on (log-formats.md §1.8, §10).

Between two logged hops the missing ones follow from how transport hands a message on
(``FEEDS``): a receive session is followed by a send session of the same service on the
same server, a send session by a receive session on the peer. Servers come from the hops
themselves (same-server steps) and from the peer behind an endpoint IP. Sessions that only
the connectivity or tracking logs saw (witnesses) name the gap's session id, or add gaps no
structural rule predicts (e.g. mailbox delivery known from the DELIVER event).
"""

from __future__ import annotations

import re
from collections import deque
from typing import Final

from mailhops.index import schema
from mailhops.index.chain_graph import ChainGraph, Info
from mailhops.index.chain_model import HINTS, PORT_STREAM, STREAM_OF, Gap, Hop

SAME: Final = "same"
PEER: Final = "peer"

#: stream -> the streams that can carry the message next, and whether on the same server.
FEEDS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "fe-receive": (("fe-send", SAME),),
    "fe-send": (("hub-receive", PEER),),
    "hub-receive": (("hub-send", SAME),),
    "hub-send": (("hub-receive", PEER), ("mbx-delivery-receive", PEER), ("fe-receive", PEER)),
    "mbx-submission-send": (("hub-receive", PEER),),
    "mbx-delivery-receive": (),
    "edge-receive": (("edge-send", SAME),),
    "edge-send": (("fe-receive", PEER), ("hub-receive", PEER)),
}


def _path(src: str, dst: str) -> list[tuple[str, str]]:
    """Shortest stream path src -> dst as [(stream, step kind)], src excluded (dst may be
    the same stream as src: Hub to Hub)."""
    todo: deque[tuple[str, list[tuple[str, str]]]] = deque([(src, [])])
    seen: set[str] = set()
    while todo:
        cur, path = todo.popleft()
        for nxt, kind in FEEDS.get(cur, ()):
            step = [*path, (nxt, kind)]
            if nxt == dst:
                return step
            if nxt not in seen:
                seen.add(nxt)
                todo.append((nxt, step))
    return []


def peer_of(graph: ChainGraph, info: Info | None) -> tuple[str, str]:
    """(server behind the remote endpoint or "", remote port) of a hop."""
    ep = info.remote_ep if info else ""
    ip, _, port = ep.rpartition(":")
    return graph.ip_server.get(ip.strip("[]").lower(), ""), port


def _gap(after: int, stream: str, server: str) -> Gap:
    return Gap(after, stream, server, HINTS.get(stream, ""))


def _fill(
    graph: ChainGraph, i: int, xs: str, xsrv: str, ys: str, ysrv: str, y_peer: str
) -> list[Gap]:
    """Gaps on the stream path from (xs on xsrv) to (ys on ysrv), both ends excluded;
    ``y_peer`` is the server that fed the far end, when known."""
    path = _path(xs, ys)
    if len(path) < 2:
        return []
    streams = [s for s, _ in path]
    kinds = [k for _, k in path]  # kinds[j]: step into streams[j]
    servers = [""] * len(streams)
    servers[-1] = ysrv
    for j in range(len(streams) - 1):  # forward from x over same-server steps
        if kinds[j] != SAME:
            break
        servers[j] = xsrv if j == 0 else servers[j - 1]
    for j in range(len(streams) - 2, -1, -1):  # backward from y
        if servers[j]:
            break
        if kinds[j + 1] == SAME:
            servers[j] = servers[j + 1]
        elif j + 1 == len(streams) - 1:
            servers[j] = y_peer
    return [_gap(i, s, srv) for s, srv in zip(streams[:-1], servers[:-1], strict=True)]


_HOSTNAME: Final = re.compile(r"Hostname=([A-Za-z0-9][A-Za-z0-9\-]*)")


def _waypoint(x: Hop, y: Hop) -> str:
    """The Hub a relayed reply on ``x`` names (``[InternalId=R, Hostname=H]``), when the
    way from ``x`` to ``y`` passes a Hub receive that is not ``y`` itself."""
    m = _HOSTNAME.search(x.reply)
    if m is None or x.service == schema.HUB:
        return ""
    hub = m.group(1).upper()
    through = [s for s, _ in _path(x.stream, y.stream)]
    if "hub-receive" not in through or (y.stream == "hub-receive" and y.server == hub):
        return ""
    return "" if hub == y.server else hub


def between(graph: ChainGraph, i: int, x: Hop, y: Hop) -> list[Gap]:
    """The unlogged hops between consecutive hops ``x`` (index i) and ``y``. A send whose
    peer is not ``y``'s server, or a relayed reply naming another Hub, went through it."""
    y_peer, _ = peer_of(graph, graph.node_info((y.key, y.segment)))
    xs, xsrv = x.stream, x.server
    gaps: list[Gap] = []
    if x.direction == schema.SEND:
        peer, port = peer_of(graph, graph.node_info((x.key, x.segment)))
        first = PORT_STREAM.get(port, "hub-receive")
        if peer and peer != y.server:
            gaps.append(_gap(i, first, peer))
            xs, xsrv = first, peer
    hub = _waypoint(x, y)
    if hub and not gaps:
        gaps += _fill(graph, i, xs, xsrv, "hub-receive", hub, "")
        gaps.append(_gap(i, "hub-receive", hub))
        xs, xsrv = "hub-receive", hub
    return gaps + _fill(graph, i, xs, xsrv, y.stream, y.server, y_peer)


def tail(graph: ChainGraph, hops: list[Hop]) -> list[Gap]:
    """A message accepted by the last logged hop went on to a hop nobody logged."""
    last = hops[-1]
    i = len(hops) - 1
    if last.code is None or last.code >= 300:
        return []
    if last.direction == schema.SEND:
        server, port = peer_of(graph, graph.node_info((last.key, last.segment)))
        stream = PORT_STREAM.get(port)
        return [_gap(i, stream, server)] if stream is not None and server else []
    if last.service == schema.FRONTEND:
        return [_gap(i, "fe-send", last.server)]
    if last.service == schema.HUB and "Hostname=" in last.reply:
        # 2013+ Hubs always hand over by SMTP; a 2010 Hub (no Hostname=) delivers by MAPI.
        return [_gap(i, "hub-send", last.server)]
    return []


def head(graph: ChainGraph, hops: list[Hop]) -> list[Gap]:
    """The first logged hop came from a lab server whose hop was not logged."""
    first = hops[0]
    info = graph.node_info((first.key, first.segment))
    if first.direction == schema.SEND:
        return [_gap(-1, "fe-receive", first.server)] if first.service == schema.FRONTEND else []
    server, _ = peer_of(graph, info)
    if not server:
        return []
    if info is not None and info.xproxy:
        return [_gap(-1, "fe-send", server)]
    # Between lab servers only Hubs send to 2525 and 475 (the Front End case is above).
    return [_gap(-1, "hub-send", server)]


#: Order of the streams along a path, for witnesses that share a position.
_RANK: Final = {
    "fe-receive": 0,
    "fe-send": 1,
    "mbx-submission-send": 1,
    "hub-receive": 2,
    "hub-send": 3,
    "mbx-delivery-receive": 4,
}


def _stream(key: str) -> str:
    _, service, direction, _ = key.split("|", 3)
    return STREAM_OF.get((service, direction), f"{service}-{direction}")


def with_witnesses(gaps: list[Gap], witnesses: list[tuple[int, str]]) -> list[Gap]:
    """Name the session id of a gap a connectivity/tracking line revealed; a witness that
    no structural gap explains is a gap of its own."""
    out = list(gaps)
    for after, key in sorted(witnesses, key=lambda w: (w[0], _RANK.get(_stream(w[1]), 9))):
        server, service, direction, sid = key.split("|", 3)
        stream = STREAM_OF.get((service, direction), f"{service}-{direction}")
        same = [
            i for i, g in enumerate(out) if (g.after, g.stream, g.server) == (after, stream, server)
        ]
        if same:
            g = out[same[0]]
            out[same[0]] = Gap(g.after, g.stream, g.server, g.hint, g.session_id or sid)
        else:
            out.append(Gap(after, stream, server, HINTS.get(stream, ""), sid))
    return sorted(out, key=lambda g: g.after)


def _no_message(graph: ChainGraph, hops: list[Hop]) -> bool:
    """A lone session that carried no message (a probe, a failed TLS handshake): no hop
    came before it or goes after it."""
    if len(hops) != 1 or hops[0].segment >= 0:  # a MESSAGES segment carried one
        return False
    info = graph.node_info((hops[0].key, hops[0].segment))
    return info is not None and info.mail_ord < 0 and info.outcome != schema.OUTCOME_DELIVERED


def gaps_of(graph: ChainGraph, hops: list[Hop], witnesses: list[tuple[int, str]]) -> list[Gap]:
    """Every gap of a chain, in hop order."""
    if _no_message(graph, hops):
        return with_witnesses([], witnesses)
    gaps = head(graph, hops)
    for i in range(len(hops) - 1):
        gaps += between(graph, i, hops[i], hops[i + 1])
    gaps += tail(graph, hops)
    return with_witnesses(gaps, witnesses)
