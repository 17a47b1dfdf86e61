"""``mailhops trace``: JSON keys exactly as the issue names them, exit codes, text output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mailhops.cli import main
from mailhops.sample import SampleOptions, generate

HOP_KEYS = {
    "server",
    "service",
    "direction",
    "connector",
    "session_id",
    "start",
    "end",
    "rule",
    "evidence",
    "latency_ms",
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[dict]]:
    root = tmp_path_factory.mktemp("trace")
    truth = generate(
        root / "logs", size_mb=0.6, seed=5, options=SampleOptions(disabled=frozenset({"hub-send"}))
    )
    return root / "logs", root / "cache", truth.messages


def _first_hop(m: dict) -> dict:
    return next(h for h in m["hops"] if h["msg"] >= 0)


def test_trace_json_by_message_id(corpus, capsys) -> None:
    logs, cache, messages = corpus
    m = next(x for x in messages if x["message_id"] and x["gaps"] and x["flow"] == "inbound")
    rc = main(["trace", m["message_id"], str(logs), "--cache", str(cache), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert {"hops", "gaps", "side", "message_id", "outcome"} <= set(out)
    assert all(set(h) >= HOP_KEYS for h in out["hops"])
    assert [h["session_id"] for h in out["hops"]] == [h["session_id"] for h in m["hops"]]
    assert [(g["after"], g["stream"], g["server"]) for g in out["gaps"]] == [
        (g["after"], g["stream"], g["server"]) for g in m["gaps"]
    ]
    assert all({"after", "stream", "server", "hint"} <= set(g) for g in out["gaps"])
    assert "IntraOrgConnectorProtocolLoggingLevel" in out["gaps"][0]["hint"]
    assert out["message_id"] == m["message_id"]


def test_trace_text_by_session_id(corpus, capsys) -> None:
    logs, cache, messages = corpus
    m = next(x for x in messages if x["flow"] == "inbound" and x["message_id"])
    sid = _first_hop(m)["session_id"]
    rc = main(["trace", sid, str(logs), "--cache", str(cache)])
    text = capsys.readouterr().out
    assert rc == 0
    for h in m["hops"]:
        assert h["session_id"] in text
    assert "Outcome:" in text and m["sender"] in text


def test_trace_unknown_id_fails_clearly(corpus, capsys) -> None:
    logs, cache, _ = corpus
    rc = main(["trace", "FFFFFFFFFFFFFFFF", str(logs), "--cache", str(cache)])
    assert rc == 1
    assert "no session or message matches" in capsys.readouterr().err


def test_trace_session_with_several_messages_lists_them(corpus, capsys) -> None:
    logs, cache, messages = corpus
    counts: dict[str, int] = {}
    for m in messages:
        for h in m["hops"]:
            if h["msg"] >= 0:
                counts[h["session_id"]] = counts.get(h["session_id"], 0) + 1
    sid = next(s for s, n in counts.items() if n > 1)
    rc = main(["trace", sid, str(logs), "--cache", str(cache)])
    err = capsys.readouterr().err
    assert rc == 3
    assert "messages; pick one" in err
    assert err.count("#") >= 2


PROTOCOL_STREAMS = frozenset(
    {
        "fe-receive",
        "fe-send",
        "hub-receive",
        "hub-send",
        "mbx-delivery-receive",
        "mbx-submission-send",
    }
)


@pytest.fixture(scope="module")
def tracking_only(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[dict]]:
    """Protocol logging off everywhere (most connectors' default): message tracking only."""
    root = tmp_path_factory.mktemp("tracking-only")
    options = SampleOptions(disabled=PROTOCOL_STREAMS)
    truth = generate(root / "logs", size_mb=0.3, seed=7, options=options)
    return root / "logs", root / "cache", truth.messages


def test_trace_of_a_message_only_message_tracking_saw(tracking_only, capsys) -> None:
    logs, cache, messages = tracking_only
    m = next(x for x in messages if x["message_id"] and x["flow"] == "inbound")
    rc = main(["trace", m["message_id"], str(logs), "--cache", str(cache), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert out["hops"] == [] and "error" not in out
    assert out["message_id"] == m["message_id"]
    events = out["tracking"]
    assert {e["event_id"] for e in events} >= {"RECEIVE"}
    assert [e["ts"] for e in events] == sorted(e["ts"] for e in events)
    assert all(e["server"] for e in events)
    assert out["sender"] and out["recipients"]
    # Bare local@domain works too; the text says why there are no hops and what to enable.
    rc = main(["trace", m["message_id"].strip("<>"), str(logs), "--cache", str(cache)])
    text = capsys.readouterr().out
    assert rc == 0
    assert "No SMTP protocol log has this message" in text
    assert "Set-ReceiveConnector -ProtocolLoggingLevel Verbose" in text
    assert f"Message-ID: {m['message_id']}" in text


def test_an_internal_id_only_message_tracking_saw_traces_its_message(tracking_only, capsys) -> None:
    """An InternalId in no protocol log is looked up in message tracking (its
    internal-message-id field) and traced as the message it names."""
    logs, cache, messages = tracking_only
    m = next(x for x in messages if x["message_id"] and len(set(x["internal_ids"].values())) == 1)
    internal = next(iter(m["internal_ids"].values()))
    rc = main(["trace", internal, str(logs), "--cache", str(cache), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0, out
    assert out["message_id"] == m["message_id"] and out["tracking"]
    rc = main(["trace", "99999999999999", str(logs), "--cache", str(cache), "--json"])
    assert rc != 0 and json.loads(capsys.readouterr().out)["error"]


def test_a_message_id_nothing_saw_is_still_an_error(tracking_only, capsys) -> None:
    logs, cache, _ = tracking_only
    rc = main(["trace", "<nobody@nowhere.example>", str(logs), "--cache", str(cache), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc != 0
    assert out["error"] and out["tracking"] == []


def test_a_session_that_carried_no_message_is_not_delivered_and_has_no_gap(corpus) -> None:
    """A TLS failure after STARTTLS's 220, a probe's 221: no message, so no next hop."""
    import polars as pl

    from mailhops.index.build import open_index

    logs, cache, _ = corpus
    index = open_index([logs], cache_dir=cache)
    idle = index.sessions.filter(
        pl.col("outcome").is_in(["tls_failed", "no_mail"]) & (pl.col("messages") == 0)
    )
    assert set(idle["outcome"]) == {"tls_failed", "no_mail"}
    for key, outcome in idle.select("key", "outcome").iter_rows():
        chain = index.chain(key)
        assert chain.ok, key
        assert (chain.outcome, chain.gaps) == (outcome, []), key
