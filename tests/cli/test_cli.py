"""Every headless command and its error paths, through ``mailhops.cli.main``."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import polars as pl
import pytest

from mailhops.cli import main, sample_logs
from mailhops.records import KEYS

Capture = pytest.CaptureFixture[str]


def run(capsys: Capture, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def cache(tmp_path: Path) -> str:
    return str(tmp_path / "cache")


def truth_sessions(root: Path) -> pl.DataFrame:
    return pl.read_ndjson(root / "truth" / "sessions.jsonl")


def test_index_json(capsys: Capture, generated: Path, cache: str) -> None:
    code, out, err = run(capsys, "index", str(generated), "--cache", cache, "--json")
    assert code == 0, err
    doc = json.loads(out)
    for key in ("files", "lines", "sessions", "bad_lines"):
        assert isinstance(doc[key], int)
    assert isinstance(doc["elapsed_s"], float)
    assert doc["servers"] == ["EX19MBX1", "EX19MBX2", "EX19MBX3"]
    assert doc["sessions"] == truth_sessions(generated).height
    files = [json.loads(x) for x in (generated / "truth" / "files.jsonl").read_text().splitlines()]
    assert doc["files"] == len(files)
    assert doc["lines"] == sum(f["lines"] for f in files)
    assert doc["bad_lines"] == 0
    assert isinstance(doc["problems"], list) and doc["problems_total"] == len(doc["problems"])
    assert doc["parsed_files"] == len(files)
    again = json.loads(run(capsys, "index", str(generated), "--cache", cache, "--json")[1])
    assert again["parsed_files"] == 0 and again["reused_files"] == len(files)


def test_index_text(capsys: Capture, generated: Path, cache: str) -> None:
    code, out, _ = run(capsys, "index", str(generated), "--cache", cache)
    assert code == 0
    assert "sessions" in out and "EX19MBX1, EX19MBX2, EX19MBX3" in out


def test_index_problems_have_file_line_reason(
    capsys: Capture, tmp_path: Path, generated: Path, cache: str
) -> None:
    bad = tmp_path / "bad"
    src = next(generated.rglob("RECV*.LOG"))
    bad.mkdir()
    (bad / src.name).write_bytes(src.read_bytes() + b'2026-11-02T08:00:00.000Z,"broken\r\n')
    doc = json.loads(run(capsys, "index", str(bad), "--cache", cache, "--json")[1])
    assert doc["problems_total"] >= 1
    problem = doc["problems"][0]
    assert set(problem) >= {"file", "line", "reason"}
    assert problem["file"].endswith(src.name) and problem["line"] > 0


def test_sessions_json_keys_and_truth(capsys: Capture, generated: Path, cache: str) -> None:
    code, out, err = run(capsys, "sessions", str(generated), "--cache", cache, "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert len(rows) == truth_sessions(generated).height
    assert all(list(r) == KEYS for r in rows)
    assert KEYS == [
        "server",
        "service",
        "direction",
        "connector",
        "session_id",
        "start",
        "end",
        "local_endpoint",
        "remote_endpoint",
        "ehlo",
        "mail_from",
        "rcpt_to",
        "message_ids",
        "outcome",
        "detail",
    ]
    r = rows[0]
    assert r["start"].endswith("Z") and "T" in r["start"]
    assert isinstance(r["rcpt_to"], list) and isinstance(r["message_ids"], list)
    assert {x["direction"] for x in rows} == {"receive", "send"}
    truth = {
        (t["server"], t["direction"], t["session_id"]): t["outcome"]
        for t in truth_sessions(generated).iter_rows(named=True)
    }
    assert all(truth[(x["server"], x["direction"], x["session_id"])] == x["outcome"] for x in rows)


def test_sessions_filters(capsys: Capture, generated: Path, cache: str) -> None:
    def ids(*extra: str) -> list[dict[str, object]]:
        code, out, err = run(capsys, "sessions", str(generated), "--cache", cache, "--json", *extra)
        assert code == 0, err
        return list(json.loads(out))

    every = ids()
    on_two = ids("--server", "ex19mbx2")
    assert on_two and {r["server"] for r in on_two} == {"EX19MBX2"}
    assert len(on_two) == sum(r["server"] == "EX19MBX2" for r in every)
    fe = ids("--connector", "default frontend")
    assert fe and all("Default Frontend" in str(r["connector"]) for r in fe)
    starts = sorted(str(r["start"]) for r in every)
    middle = starts[len(starts) // 2]
    late = ids("--since", middle)
    assert late and all(str(r["end"]) >= middle for r in late)
    early = ids("--until", middle)
    assert len(early) >= len(starts) // 2 and all(str(r["start"]) <= middle for r in early)
    sender = str(next(r["mail_from"] for r in every if r["mail_from"]))
    found = ids("--search", sender.upper())
    assert found and all(sender == r["mail_from"] or sender in str(r) for r in found)
    assert ids("--search", "no-such-text-anywhere") == []


def test_sessions_csv_header_and_table(capsys: Capture, generated: Path, cache: str) -> None:
    code, out, _ = run(capsys, "sessions", str(generated), "--cache", cache, "--csv")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == KEYS
    assert len(rows) - 1 == truth_sessions(generated).height
    code, out, err = run(capsys, "sessions", str(generated), "--cache", cache, "--limit", "3")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:5] == ["start", "server", "service", "dir", "session_id"]
    assert len(lines) == 4
    assert "3 of" in err


def test_show_transcript_in_sequence(capsys: Capture, generated: Path, cache: str) -> None:
    truth = truth_sessions(generated).filter(pl.col("lines") > 10).row(0, named=True)
    code, out, err = run(
        capsys,
        "show",
        truth["session_id"].lower(),
        str(generated),
        "--cache",
        cache,
        "--server",
        truth["server"],
    )
    if code == 2:  # the same id in the receive and send log of one server (blind failover)
        assert truth["session_id"] in err
        return
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("# " + truth["server"])
    assert len(lines) - 1 == truth["lines"]
    seqs = [int(x.split()[1]) for x in lines[1:]]
    assert seqs == sorted(seqs)
    code, out, _ = run(
        capsys,
        "show",
        truth["session_id"],
        str(generated),
        "--cache",
        cache,
        "--server",
        truth["server"],
        "--json",
    )
    assert len(json.loads(out)["lines"]) == truth["lines"]


def _two_servers(root: Path) -> None:
    for server in ("EX1", "EX2"):
        log = root / server / "FrontEnd" / "ProtocolLog" / "SmtpReceive" / "RECV2026030210-1.LOG"
        log.parent.mkdir(parents=True)
        rows = [
            f"2026-03-02T10:00:00.000Z,{server}\\Default Frontend {server},08DE00000000AAAA,0,"
            "10.0.0.1:25,203.0.113.5:4000,+,,",
            f"2026-03-02T10:00:01.000Z,{server}\\Default Frontend {server},08DE00000000AAAA,1,"
            "10.0.0.1:25,203.0.113.5:4000,<,EHLO \x1b]52;c;aGk=\x07evil\x1b[2J.example,",
            f"2026-03-02T10:00:02.000Z,{server}\\Default Frontend {server},08DE00000000AAAA,2,"
            "10.0.0.1:25,203.0.113.5:4000,-,,Remote",
        ]
        header = (
            "#Software: Microsoft Exchange Server\r\n#Version: 15.0.0.0\r\n"
            "#Log-type: SMTP Receive Protocol Log\r\n#Date: 2026-03-02T10:00:00.000Z\r\n"
            "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,"
            "remote-endpoint,event,data,context\r\n"
        )
        log.write_bytes(b"\xef\xbb\xbf" + (header + "\r\n".join(rows) + "\r\n").encode())


def test_show_ambiguous_lists_candidates(capsys: Capture, tmp_path: Path, cache: str) -> None:
    _two_servers(tmp_path / "logs")
    code, out, err = run(
        capsys, "show", "08DE00000000AAAA", str(tmp_path / "logs"), "--cache", cache
    )
    assert code == 2
    assert "EX1|FrontEnd|receive|08DE00000000AAAA" in err
    assert "EX2|FrontEnd|receive|08DE00000000AAAA" in err
    code, out, _ = run(
        capsys,
        "show",
        "08DE00000000AAAA",
        str(tmp_path / "logs"),
        "--cache",
        cache,
        "--server",
        "ex2",
    )
    assert code == 0 and len(out.splitlines()) == 4
    code, out, _ = run(
        capsys,
        "show",
        "EX1|FrontEnd|receive|08DE00000000AAAA",
        str(tmp_path / "logs"),
        "--cache",
        cache,
    )
    assert code == 0 and out.startswith("# EX1|")


def test_hostile_text_never_reaches_the_terminal(
    capsys: Capture, tmp_path: Path, cache: str
) -> None:
    _two_servers(tmp_path / "logs")
    logs = str(tmp_path / "logs")
    outputs = [
        run(capsys, "show", "08DE00000000AAAA", logs, "--cache", cache, "--server", "EX1")[1],
        run(capsys, "sessions", logs, "--cache", cache)[1],
        run(capsys, "sessions", logs, "--cache", cache, "--csv")[1],
        run(capsys, "sessions", logs, "--cache", cache, "--json")[1],
    ]
    for text in outputs:
        assert "\x1b" not in text and "\x07" not in text
    assert "evil" in outputs[0]
    # JSON is read by scripts that print what they decode: the value itself is cleaned.
    assert json.loads(outputs[3])[0]["ehlo"].startswith("\\x1b]52")


@pytest.mark.parametrize(
    ("argv", "code", "needle"),
    [
        (["index", "/no/such/folder"], 1, "/no/such/folder"),
        (["sessions", "/no/such/folder", "--json"], 1, "/no/such/folder"),
        (["show", "08DE", "/no/such/folder"], 1, "/no/such/folder"),
        (["/no/such/folder"], 1, "/no/such/folder"),
        (["index"], 2, "PATH"),
        (["sessions", "X", "--since", "yesterday"], 2, "invalid time"),
        (["sessions", "X", "--json", "--csv"], 2, "not allowed"),
        (["sessions", "X", "--limit", "-1"], 2, "must be 0 or more"),
        (["sessions", "X", "--limit", "ten"], 2, "not a whole number"),
        (["frobnicate", "--cache"], 2, "--cache"),
    ],
)
def test_errors_are_one_line(capsys: Capture, argv: list[str], code: int, needle: str) -> None:
    try:
        got = main(argv)
    except SystemExit as exc:
        got = int(exc.code or 0)
    _out, err = capsys.readouterr()
    assert got == code
    assert len(err.strip().splitlines()) == 1, err
    assert needle in err
    assert "Traceback" not in err


def test_empty_folder_is_no_logs(capsys: Capture, tmp_path: Path, cache: str) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("hello")
    code, _, err = run(capsys, "index", str(tmp_path / "empty"), "--cache", cache)
    assert code == 1
    assert len(err.strip().splitlines()) == 1 and "error" in err


def test_bundled_sample_logs_are_found(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert (sample_logs() / "truth").is_dir()
    monkeypatch.setenv("MAILHOPS_SAMPLE_LOGS", str(tmp_path))
    assert sample_logs() == tmp_path


def test_csv_cells_cannot_become_formulas(capsys: Capture, tmp_path: Path, cache: str) -> None:
    log = tmp_path / "logs" / "EX1" / "FrontEnd" / "ProtocolLog" / "SmtpReceive" / "R.LOG"
    log.parent.mkdir(parents=True)
    header = (
        "#Software: Microsoft Exchange Server\r\n#Version: 15.0.0.0\r\n"
        "#Log-type: SMTP Receive Protocol Log\r\n#Date: 2026-03-02T10:00:00.000Z\r\n"
        "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,"
        "remote-endpoint,event,data,context\r\n"
    )
    row = (
        "2026-03-02T10:00:01.000Z,EX1\\Default Frontend EX1,08DE00000000BBBB,{n},"
        "10.0.0.1:25,203.0.113.5:4000,{ev},{data},\r\n"
    )
    body = row.format(n=0, ev="<", data='"EHLO =HYPERLINK(""http://x"",""y"")"')
    log.write_bytes((header + body).encode())
    code, out, _ = run(capsys, "sessions", str(tmp_path / "logs"), "--cache", cache, "--csv")
    assert code == 0
    cells = list(csv.reader(io.StringIO(out)))[1]
    assert cells[KEYS.index("ehlo")].startswith("'=HYPERLINK")


def test_every_command_takes_the_servers_file(
    capsys: Capture, generated: Path, cache: str, tmp_path: Path
) -> None:
    servers = tmp_path / "servers.txt"
    servers.write_text("EX19MBX1 mail.contoso.lab 192.0.2.10\n")
    common = [str(generated), "--cache", cache, "--servers", str(servers)]
    code, out, err = run(capsys, "index", *common, "--json")
    assert code == 0, err
    code, out, err = run(capsys, "sessions", *common, "--json", "--connector", "Frontend")
    assert code == 0, err
    ids = pl.DataFrame(json.loads(out))["session_id"]
    sid = ids.filter(ids.is_in(ids.filter(ids.is_duplicated()).implode()).not_())[0]
    code, out, err = run(capsys, "show", sid, *common)
    assert code == 0, err
    assert sid in out
    code, out, err = run(capsys, "trace", sid, *common, "--json")
    assert code in (0, 3), err  # 3: the session carried several messages (listed)
    if code == 0:
        assert json.loads(out)["hops"]


@pytest.mark.parametrize("command", ["index", "sessions", "show", "trace", None])
def test_bad_servers_file_fails_before_indexing(
    capsys: Capture, generated: Path, tmp_path: Path, command: str | None
) -> None:
    servers = tmp_path / "servers.txt"
    servers.write_text("10.0.0.1 EX1\n")  # the name must come first
    cache = tmp_path / "cache"
    head = {"show": ["show", "0"], "trace": ["trace", "0"], None: []}.get(command, [command])
    argv = [*head, str(generated), "--cache", str(cache), "--servers", str(servers)]
    code, _, err = run(capsys, *[a for a in argv if a is not None])
    assert code == 1
    assert len(err.strip().splitlines()) == 1 and ":1:" in err, err
    assert not cache.exists(), "a bad --servers file must be reported before any indexing"


def test_app_gets_the_servers_file(
    monkeypatch: pytest.MonkeyPatch, generated: Path, tmp_path: Path
) -> None:
    import mailhops.app.factory as factory

    seen: dict[str, object] = {}

    def fake_run_app(paths: list[str], cache_dir: str | None, **kw: object) -> int:
        seen.update(paths=paths, cache=cache_dir, **kw)
        return 0

    monkeypatch.setattr(factory, "run_app", fake_run_app)
    servers = tmp_path / "servers.txt"
    servers.write_text("EX19MBX1 192.0.2.10\n")
    assert main([str(generated), "--cache", str(tmp_path / "c"), "--servers", str(servers)]) == 0
    assert seen == {
        "paths": [str(generated)],
        "cache": str(tmp_path / "c"),
        "servers_file": str(servers),
    }


def test_failed_sessions_say_why_in_trace_and_sessions(
    capsys: Capture, generated: Path, cache: str
) -> None:
    """The reason shown for a failed session is the line that failed it (the 5xx reply, the
    TLS failure), not the reply to QUIT that ends it."""
    truth = truth_sessions(generated)
    for outcome, why in (("rejected", "550 "), ("tls_failed", "TLS negotiation failed")):
        sid = truth.filter(pl.col("outcome") == outcome)["session_id"][0]
        code, out, err = run(capsys, "trace", sid, str(generated), "--cache", cache)
        assert code == 0, err
        (line,) = [x for x in out.splitlines() if x.startswith("Outcome:")]
        assert line.startswith(f"Outcome:    {outcome} ({why}"), line
    code, out, err = run(capsys, "sessions", str(generated), "--cache", cache, "--json")
    rows = json.loads(out)
    rejected = [r for r in rows if r["outcome"] == "rejected"]
    assert rejected and all(r["detail"].startswith("5") for r in rejected)
    assert all(r["detail"] is None for r in rows if r["outcome"] == "delivered")


def test_show_header_points_the_way_the_connection_went(
    capsys: Capture, generated: Path, cache: str
) -> None:
    truth = truth_sessions(generated)
    for direction, arrow in (("receive", " <- "), ("send", " -> ")):
        sid = truth.filter(pl.col("direction") == direction)["session_id"][0]
        code, out, err = run(capsys, "show", sid, str(generated), "--cache", cache)
        assert code == 0, err
        header = out.splitlines()[0]
        assert f"|{direction}|" in header and arrow in header, header


def test_ids_typed_in_another_case_are_found(capsys: Capture, generated: Path, cache: str) -> None:
    """A session key or Message-ID typed in another case still finds it (the one written
    exactly wins when both exist), as the app's go-to does."""
    truth = truth_sessions(generated)
    row = truth.filter(pl.col("message_ids").list.len() > 0).row(0, named=True)
    key = "|".join([row["server"], row["service"], row["direction"], row["session_id"]])
    code, out, err = run(capsys, "show", key.lower(), str(generated), "--cache", cache)
    assert code == 0, err
    assert out.startswith(f"# {key} |")
    mid = row["message_ids"][0]
    code, out, err = run(capsys, "trace", mid.upper(), str(generated), "--cache", cache, "--json")
    assert code == 0, err
    assert json.loads(out)["message_id"] == mid
    code, out, err = run(capsys, "trace", key.lower(), str(generated), "--cache", cache)
    assert code in (0, 3), err  # 3: the session carried several messages (listed)
    assert row["session_id"] in out + err


def test_no_exchange_log_is_an_error_and_a_bad_path_beside_good_ones_a_warning(
    capsys: Capture, generated: Path, cache: str, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.log"
    notes.write_text("not a log\n")
    code, out, err = run(capsys, "index", str(notes), "--cache", str(tmp_path / "c"))
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "no Exchange log in" in err
    missing = str(tmp_path / "typo")
    code, out, err = run(capsys, "sessions", str(generated), missing, "--cache", cache, "--json")
    assert code == 0 and json.loads(out)
    assert err.count("\n") == 1 and err.startswith("mailhops sessions: warning: ")
    assert missing in err


def test_limit_footer_and_unknown_server(capsys: Capture, generated: Path, cache: str) -> None:
    """--limit says how many matched; a server no log has is a warning, not silence."""
    common = [str(generated), "--cache", cache]
    code, out, err = run(capsys, "sessions", *common, "--outcome", "delivered")
    delivered = int(err.split()[0])
    code, out, err = run(capsys, "sessions", *common, "--outcome", "delivered", "--limit", "2")
    assert code == 0 and err.startswith(f"2 of {delivered} matching (")
    code, out, err = run(capsys, "sessions", *common, "--server", "nosuch", "--json")
    assert code == 0 and json.loads(out) == []
    assert err.startswith("mailhops sessions: warning: no server nosuch (servers: ")


def test_show_of_an_id_on_two_servers_lists_them_in_json_too(
    capsys: Capture, tmp_path: Path
) -> None:
    header = (
        "\ufeff#Software: Microsoft Exchange Server\r\n#Version: 15.2.0.0\r\n"
        "#Log-type: SMTP Receive Protocol Log\r\n#Date: 2026-03-02T10:00:00.000Z\r\n"
        "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,"
        "remote-endpoint,event,data,context\r\n"
    )
    for n, server in enumerate(("EX1", "EX2")):
        pre = f"2026-03-02T10:0{n}:00.000Z,{server}\\Default Frontend {server},08DE0000000000A1"
        rows = [
            f"{pre},{i},10.0.3.{n}:25,203.0.113.9:5000,{e}"
            for i, e in enumerate(["+,,", f">,220 {server} ready,", "-,,Local"])
        ]
        log = tmp_path / "logs" / server / "RECV2026030210-1.LOG"
        log.parent.mkdir(parents=True)
        log.write_text(header + "\r\n".join(rows) + "\r\n", encoding="utf-8")
    common = [str(tmp_path / "logs"), "--cache", str(tmp_path / "c")]
    code, out, err = run(capsys, "show", "08DE0000000000A1", *common, "--json")
    assert code == 2 and "2 sessions match" in err
    doc = json.loads(out)
    assert "2 sessions match" in doc["error"]
    assert sorted(doc["candidates"]) == [
        "EX1|FrontEnd|receive|08DE0000000000A1",
        "EX2|FrontEnd|receive|08DE0000000000A1",
    ]
    code, out, err = run(capsys, "show", "08DE0000000000A1", *common, "--server", "ex2")
    assert code == 0 and out.startswith("# EX2|FrontEnd|receive|08DE0000000000A1 |")
