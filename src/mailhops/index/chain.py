"""Trace one message: an id -> its ordered hops, the gaps where a hop was not logged, the
shadow-redundancy side branches and the outcome.

``chain(index, ident)`` accepts a session key (``SERVER|service|direction|SID``), a session
id, a Message-ID (``<...>`` or bare ``local@domain``) or an InternalId/RecordId; append
``#N`` to a session key or id to pick its N-th message. The adjacency is built once per
index (:class:`~mailhops.index.chain_graph.ChainGraph`), so a trace costs O(hops).
"""

from __future__ import annotations

import dataclasses
import heapq
import re
import threading
from datetime import UTC, datetime
from typing import Any, Final

import polars as pl

from mailhops.index import schema
from mailhops.index.chain_gaps import gaps_of
from mailhops.index.chain_graph import ChainGraph, Info, Node
from mailhops.index.chain_model import Chain, Hop, TrackingEvent
from mailhops.index.chain_text import render_text

__all__ = ["Chain", "ChainGraph", "chain", "chain_from", "graph_of", "render_text"]

_HEX16: Final = re.compile(r"^[0-9A-Fa-f]{16}$")
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_GRAPHS: dict[int, tuple[Any, ChainGraph]] = {}
_GRAPHS_LOCK = threading.Lock()


def graph_of(index: Any) -> ChainGraph:
    """The index's adjacency, built on first use and kept for the index's lifetime (two
    threads asking first build it once)."""
    with _GRAPHS_LOCK:
        cached = _GRAPHS.get(id(index))
        if cached is not None and cached[0] is index:
            return cached[1]
        graph = ChainGraph(index.messages, index.links, index.sessions)
        _GRAPHS.clear()  # one open index at a time is the norm; never leak old ones
        _GRAPHS[id(index)] = (index, graph)
        return graph


def chain(index: Any, ident: str) -> Chain:
    """The chain of the message ``ident`` names in ``index`` (see module docstring).

    A Message-ID no SMTP protocol log carries (protocol logging is off by default on most
    connectors; message tracking is on) is answered from the message tracking logs: a
    chain without hops, its tracking events, sender, recipients and outcome."""
    found = chain_from(graph_of(index), ident)
    if found.ok or found.candidates or not hasattr(index, "tracking_events"):
        return found
    base = _split_ordinal(ident.strip())[0]
    if base.isdigit() and hasattr(index, "tracking_message_ids"):
        # An InternalId no session carries: message tracking knows which message it is.
        try:
            named = index.tracking_message_ids(base)
        except (OSError, pl.exceptions.PolarsError):
            return found
        if len(named) != 1 or not schema.is_message_id(named[0]):
            return found  # none, one reused by several servers, or no Message-ID at all
        return dataclasses.replace(chain(index, named[0]), ident=ident)
    if "|" in base or not schema.is_message_id(base):
        return found
    try:
        events = index.tracking_events(base)
    except (OSError, pl.exceptions.PolarsError):  # parts a newer build has since removed
        return found
    own = set(getattr(getattr(index, "stats", None), "servers", None) or [])
    return tracked_chain(ident, events, own) if events.height else found


def tracked_chain(ident: str, events: Any, own: set[str] | None = None) -> Chain:
    """The chain of a message known only from its tracking ``events`` (TRACKING_EVENT);
    ``own`` names the organisation's servers (a SEND to one of them stays inside)."""
    text = events.with_columns(pl.col(pl.String).fill_null(""))  # a column left out: ""
    tracked = [TrackingEvent(**row) for row in text.iter_rows(named=True)]
    rcpt: dict[str, None] = {}
    for e in tracked:
        rcpt.update(dict.fromkeys(r for r in e.recipient_address.split(";") if r))
    sender = next((e.sender_address for e in tracked if e.sender_address), None)
    outcome, detail = _tracked_outcome(tracked, {o.upper() for o in own or ()})
    return Chain(
        ident,
        message_id=_as_mid(ident),
        mail_from=sender,
        rcpt_to=list(rcpt),
        outcome=outcome,
        outcome_detail=detail,
        tracking=tracked,
    )


def _as_mid(ident: str) -> str:
    """``ident`` (without a ``#N`` ordinal) as a Message-ID in angle brackets."""
    return schema.message_id(_split_ordinal(ident.strip())[0])


def _tracked_outcome(events: list[TrackingEvent], own: set[str]) -> tuple[str, str]:
    """The outcome message tracking gives: delivered to a mailbox (DELIVER) or sent out of
    the organisation (SEND by SMTP to a server not of ``own``, not intra-organisation, not
    Edge sync); else failed (FAIL), else deferred (DEFER); a message handed to another
    server of ours whose tracking log is not indexed is incomplete, with where it went."""

    def inside(e: TrackingEvent) -> bool:
        connector = e.connector_id.lower()
        host = e.server_hostname.split(".")[0].upper()
        return "intra-organization" in connector or "edgesync" in connector or host in own

    def last(kind: str) -> TrackingEvent | None:
        return next((e for e in reversed(events) if e.event_id.upper() == kind), None)

    sent = [e for e in events if e.event_id.upper() == "SEND" and e.source.upper() == "SMTP"]
    out = [e for e in sent if not inside(e)]
    if last("DELIVER") is not None or out:
        return schema.OUTCOME_DELIVERED, ""
    for kind, outcome in (("FAIL", schema.OUTCOME_REJECTED), ("DEFER", schema.OUTCOME_DEFERRED)):
        event = last(kind)
        if event is not None:
            return outcome, f"{kind} {event.recipient_status}".strip()
    if sent:
        to = sent[-1].server_hostname or "another server"
        return schema.OUTCOME_INCOMPLETE, f"sent on to {to}; its tracking log is not indexed"
    return schema.OUTCOME_INCOMPLETE, ""


def _split_ordinal(ident: str) -> tuple[str, int | None]:
    head, sep, tail = ident.rpartition("#")
    if sep and tail.isdigit():
        return head, int(tail)
    return ident, None


def resolve(graph: ChainGraph, ident: str) -> list[Node]:
    """Every node ``ident`` names (see module docstring)."""
    ident = ident.strip()
    if "|" in ident:  # a session key never holds spaces: drop a pasted description
        ident = ident.split()[0]
    base, ordinal = _split_ordinal(ident)
    if "|" in base:  # as written, else in any case (a key typed in lower case)
        keys = [base] if graph.has_session(base) else graph.by_sid.keys_any_case(base)
    elif _HEX16.match(base):
        keys = list(dict.fromkeys(graph.by_sid.get(base.upper(), [])))
    elif schema.is_message_id(base):
        # Message-IDs are case-sensitive: the one written, else one that differs in case.
        mid = _as_mid(base)
        return list(graph.by_mid.get(mid, [])) or graph.by_mid.get_any_case(mid)
    elif base.isdigit():
        return list(graph.by_iid.get(base, []))
    else:
        return []
    nodes = [n for key in keys for n in graph.nodes_of_session(key)]
    if ordinal is not None:
        nodes = [n for n in nodes if n[1] == ordinal]
    return nodes


def _start_of(info: Info | None) -> datetime:
    return info.start if info is not None and info.start is not None else _EPOCH


def _order(graph: ChainGraph, nodes: set[Node]) -> list[Node]:
    """Upstream first (topological over the links), ties broken by start time."""
    indeg = {n: 0 for n in nodes}
    for n in nodes:
        for e in graph.out.get(n, ()):
            if e.other in indeg and not e.side:
                indeg[e.other] += 1
    heap = [(_start_of(graph.node_info(n)), n) for n, d in indeg.items() if d == 0]
    heapq.heapify(heap)
    out: list[Node] = []
    while heap:
        _, n = heapq.heappop(heap)
        out.append(n)
        for e in graph.out.get(n, ()):
            if e.other in indeg and not e.side:
                indeg[e.other] -= 1
                if indeg[e.other] == 0:
                    heapq.heappush(heap, (_start_of(graph.node_info(e.other)), e.other))
    if len(out) < len(nodes):  # a cycle: fall back to time order for the rest
        rest = sorted(nodes - set(out), key=lambda n: (_start_of(graph.node_info(n)), n))
        out.extend(rest)
    return out


def _hop(graph: ChainGraph, node: Node, prev: list[Hop], placed: dict[Node, int]) -> Hop:
    server, service, direction, sid = node[0].split("|", 3)
    info = graph.node_info(node)
    assert info is not None
    rule = evidence = ""
    best = -1
    for e in graph.inc.get(node, ()):
        at = placed.get(e.other, -1)
        if at > best:
            best, rule, evidence = at, e.rule, e.evidence
    latency = None
    if prev and prev[-1].start is not None and info.start is not None:
        latency = int((info.start - prev[-1].start).total_seconds() * 1000)
    return Hop(
        server=server,
        service=service,
        direction=direction,
        connector=info.connector,
        session_id=sid,
        start=info.start,
        end=info.end,
        rule=rule,
        evidence=evidence,
        latency_ms=latency,
        key=node[0],
        msg=info.mail_ord,
        segment=node[1],
        reply=info.reply,
        code=info.code,
    )


def _hops(graph: ChainGraph, ordered: list[Node]) -> tuple[list[Hop], list[tuple[int, str]]]:
    """Logged nodes become hops; nodes known only from connectivity/tracking logs are
    returned as gap witnesses (index of the hop before them, session key)."""
    hops: list[Hop] = []
    placed: dict[Node, int] = {}
    witnesses: list[tuple[int, str]] = []
    for node in ordered:
        if graph.node_info(node) is None:
            witnesses.append((len(hops) - 1, node[0]))
            placed[node] = len(hops) - 1
            continue
        hops.append(_hop(graph, node, hops, placed))
        placed[node] = len(hops) - 1
    return hops, witnesses


def _classify(code: int, reply: str) -> str:
    """schema.OUTCOMES value of a final reply."""
    low = reply.lower()
    if code < 300:
        return schema.OUTCOME_DELIVERED
    if "prx" in low or "proxy" in low:
        return schema.OUTCOME_PROXY_ERROR
    if "timeout" in low or "timed out" in low:
        return schema.OUTCOME_TIMEOUT
    if "tls" in low:
        return schema.OUTCOME_TLS_FAILED
    return schema.OUTCOME_REJECTED if code >= 500 else schema.OUTCOME_DEFERRED


def _tracked_failure(hops: list[Hop], graph: ChainGraph) -> tuple[str, str] | None:
    """A DEFER/FAIL tracking event on a hop nobody logged, when nothing shows the message
    was sent on after all (no SEND or DELIVER event)."""
    found = None
    for hop in hops:
        for e in graph.out.get((hop.key, hop.segment), ()):
            if e.rule in ("tracking_internal_id", "tracking_deliver"):
                return None
            if e.rule == "tracking_defer":
                found = (schema.OUTCOME_DEFERRED, e.evidence.removeprefix("DEFER "))
            elif e.rule == "tracking_fail":
                found = (schema.OUTCOME_REJECTED, e.evidence.removeprefix("FAIL "))
    return found


def _outcome(hops: list[Hop], graph: ChainGraph) -> tuple[str, str]:
    """Outcome of the message (schema.OUTCOMES) and the reply behind it: the last hop that
    got a final reply decides, unless a later hop's session failed without one."""
    coded = next((h for h in reversed(hops) if h.code is not None), None)
    after = hops[hops.index(coded) + 1 :] if coded is not None else hops
    for hop in reversed(after):
        info = graph.session_info(hop.key)
        failed = info is not None and info.outcome in schema.FAILED_OUTCOMES
        if info is not None and failed and (coded is None or (coded.code or 0) < 300):
            return info.outcome, info.reply
    tracked = _tracked_failure(hops, graph)
    if tracked is not None and (coded is None or (coded.code or 0) < 300):
        return tracked
    if coded is None or coded.code is None:
        info = graph.session_info(hops[-1].key)
        outcome = info.outcome if info else ""
        return outcome or schema.OUTCOME_INCOMPLETE, info.reply if info else ""
    return _classify(coded.code, coded.reply), coded.reply


def _side(graph: ChainGraph, main: set[Node]) -> list[Node]:
    """Nodes reached through a shadow-redundancy link, and everything linked to them."""
    side: set[Node] = set()
    todo: list[Node] = []
    for node in main:
        for e in (*graph.out.get(node, ()), *graph.inc.get(node, ())):
            if e.side and e.other not in main and e.other not in side:
                side.add(e.other)
                todo.append(e.other)
    while todo and len(side) < 64:
        node = todo.pop()
        for e in (*graph.out.get(node, ()), *graph.inc.get(node, ())):
            if e.other not in main and e.other not in side:
                side.add(e.other)
                todo.append(e.other)
    return _order(graph, side)


def _main_of(graph: ChainGraph, comp: set[Node]) -> set[Node]:
    """A shadow copy's own component leads back (through its side link) to the message's
    main chain: a Message-ID that names both means one message."""
    for _ in range(8):  # a shadow copy of a shadow copy is already unusual
        back = next(
            (e.other for n in comp for e in graph.inc.get(n, ()) if e.side and e.other not in comp),
            None,
        )
        if back is None:
            break
        comp = graph.component(back)
    return comp


def _describe(graph: ChainGraph, node: Node) -> str:
    info = graph.node_info(node)
    when = info.start.strftime("%Y-%m-%d %H:%M:%S") if info and info.start else "?"
    mid = info.message_id if info and info.message_id else "-"
    return f"{node[0]}#{node[1]}  {when}  {mid}"


def chain_from(graph: ChainGraph, ident: str) -> Chain:
    """The chain of ``ident`` in a prebuilt graph."""
    found = resolve(graph, ident)
    if not found:
        base, ordinal = _split_ordinal(ident.strip())
        whole = resolve(graph, base) if ordinal is not None else []
        if whole:  # a message number the session does not have: say which it has
            have = sorted({node[1] for node in whole if node[1] >= 0})
            numbers = ", ".join(f"#{n}" for n in have) or "none: it carried no message"
            return Chain(ident, error=f"{base!r} has no message #{ordinal} (it has {numbers})")
        return Chain(ident, error=f"no session or message matches {ident!r}")
    graph.prefetch(found)
    comps: list[set[Node]] = []
    for node in found:
        if not any(node in c for c in comps):
            comp = _main_of(graph, graph.component(node))
            if not any(comp & c for c in comps):
                comps.append(comp)
    if len(comps) > 1:
        firsts = [min(c & set(found) or c) for c in comps]
        return Chain(
            ident,
            error=f"{ident!r} matches {len(comps)} messages; pick one",
            candidates=[f"{n[0]}#{n[1]}" for n in firsts],
            candidate_details=[_describe(graph, n) for n in firsts],
        )
    return _build(graph, ident, comps[0])


def _build(graph: ChainGraph, ident: str, comp: set[Node]) -> Chain:
    graph.infos(comp)  # one batch for what the hops show
    hops, wit = _hops(graph, _order(graph, comp))
    if not hops:
        return Chain(ident, error=f"{ident!r} was seen only in connectivity/tracking logs")
    gaps = gaps_of(graph, hops, wit)
    side_nodes = [n for n in _side(graph, comp) if graph.node_info(n) is not None]
    side, _ = _hops(graph, side_nodes)
    infos = [graph.node_info((h.key, h.segment)) for h in hops]
    mid = next((i.message_id for i in infos if i and i.message_id), None)
    mfrom = next((i.mail_from for i in infos if i and i.mail_from is not None), None)
    rcpt = next((i.rcpt_to for i in infos if i and i.rcpt_to), [])
    outcome, detail = _outcome(hops, graph)
    return Chain(ident, hops, gaps, side, mid, mfrom, rcpt, outcome, detail)
