"""The generated files follow Exchange's physical format and agree with the truth."""

from __future__ import annotations

import csv
import io
import itertools
import re

from tests.sample.conftest import Corpus
from tests.sample.readback import line_counts, parse_file, protocol_sessions, read_bytes

from mailhops.sample.fmt import q

HOURLY = re.compile(r"^(RECV|SEND|CONNECTLOG|MSGTRK|MSGTRKMD|MSGTRKMS)\d{10}-\d+\.LOG$")


def test_every_file_has_bom_crlf_headers_and_parses_with_csv(corpus: Corpus) -> None:
    out, truth = corpus
    assert len(truth.files) > 20
    for record in truth.files:
        head, rows = parse_file(read_bytes(out, record["path"]))
        assert head[0] == "#Software: Microsoft Exchange Server"
        assert head[2].startswith("#Log-type: ")
        assert re.fullmatch(r"#Date: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", head[3])
        assert rows, record["path"]
        assert HOURLY.match(record["path"].rsplit("/", 1)[1]), record["path"]


def test_file_line_counts_match_truth(corpus: Corpus) -> None:
    out, truth = corpus
    counts = line_counts(out, truth)
    assert all(counts[f["path"]] == f["lines"] for f in truth.files)
    assert all(f["bad_lines"] == 0 for f in truth.files)


def test_quoting_round_trips_through_csv(corpus: Corpus) -> None:
    out, truth = corpus
    quoted = 0
    for record in truth.files[:20]:
        text = read_bytes(out, record["path"])[3:].decode()
        for line in text.split("\r\n")[5:-1]:
            row = next(csv.reader(io.StringIO(line)))
            assert ",".join(q(field) for field in row) == line
            quoted += '"' in line
    assert quoted > 10  # banners, TLS rows and 250 2.6.0 replies are quoted


def test_sessions_have_hex_ids_contiguous_sequences_and_truth_line_counts(corpus: Corpus) -> None:
    out, truth = corpus
    sessions = protocol_sessions(out, truth)
    assert len(sessions) == len(truth.sessions)
    for s in truth.sessions:
        assert re.fullmatch(r"[0-9A-F]{16}", s["session_id"])
        kind = "smtp-receive" if s["direction"] == "receive" else "smtp-send"
        rows = sessions[s["server"], f"{s['service']}/{kind}", s["session_id"]]
        assert len(rows) == s["lines"]
        seqs = [int(r[3]) for r in rows]
        assert seqs == list(range(len(rows))), s  # in file order too
        times = [r[0] for r in rows]
        assert times == sorted(times)
        assert {r[1] for r in rows} == {s["connector"]}


def test_send_sessions_start_without_local_endpoint(corpus: Corpus) -> None:
    out, truth = corpus
    sessions = protocol_sessions(out, truth)
    sends = [rows for key, rows in sessions.items() if key[1].endswith("smtp-send")]
    assert sends
    for rows in sends:
        assert rows[0][4] == "" and rows[0][6] == "*"
        assert rows[0][8].startswith("attempting to connect")
        connected = [i for i, r in enumerate(rows) if r[6] == "+"]
        if connected:  # every row from the TCP connect on knows the local endpoint
            assert all(r[4] for r in rows[connected[0] :])
        else:  # a failed connection attempt (FE PRX case): never had one
            assert rows[-1][6] == "-" and rows[-1][8].startswith("Failed to connect")


def test_rows_of_concurrent_sessions_interleave(make_corpus) -> None:  # type: ignore[no-untyped-def]
    out, truth = make_corpus(size_mb=1.0)
    interleaved = 0
    for record in truth.files:
        if record["log_type"] not in ("smtp-receive", "smtp-send"):
            continue
        _, rows = parse_file(read_bytes(out, record["path"]))
        times = [r[0] for r in rows]
        assert times == sorted(times)
        ids = [r[2] for r in rows]
        runs = sum(1 for a, b in itertools.pairwise(ids) if a != b)
        interleaved += runs > len(set(ids))
    assert interleaved > 0


def test_session_ids_come_from_per_process_counters(corpus: Corpus) -> None:
    _, truth = corpus
    by_process: dict[tuple[str, str], list[int]] = {}
    for s in truth.sessions:
        by_process.setdefault((s["server"], s["service"]), []).append(int(s["session_id"], 16))
    for ids in by_process.values():
        assert len(set(ids)) == len(ids)
        # .NET ticks of a date in 2026: the first hex digits are 08D/08E.
        assert all(0x08D0000000000000 < i < 0x08F0000000000000 for i in ids)
