"""Each SampleOptions knob changes the output the way its documentation says."""

from __future__ import annotations

import itertools
import re
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.sample.conftest import Corpus
from tests.sample.readback import line_counts, parse_file, protocol_sessions, read_bytes

from mailhops.sample import SampleOptions, generate

Make = Callable[..., Corpus]


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_same_seed_is_byte_identical_and_other_seed_differs(tmp_path: Path) -> None:
    opts = SampleOptions(zip_servers=("EX19MBX3",))
    generate(tmp_path / "a", size_mb=0.2, seed=7, options=opts)
    generate(tmp_path / "b", size_mb=0.2, seed=7, options=SampleOptions(zip_servers=("EX19MBX3",)))
    generate(tmp_path / "c", size_mb=0.2, seed=8)
    a, b = _tree_bytes(tmp_path / "a"), _tree_bytes(tmp_path / "b")
    assert a == b
    assert a["truth/messages.jsonl"] != _tree_bytes(tmp_path / "c")["truth/messages.jsonl"]


def test_committed_sample_logs_match_a_regeneration(tmp_path: Path) -> None:
    committed = Path(__file__).resolve().parents[2] / "sample_logs"
    if not (committed / "truth" / "files.jsonl").is_file():
        pytest.skip("sample_logs/ not present")
    off = SampleOptions(disabled=frozenset({"EX19MBX3:mbx-delivery-receive"}))
    generate(tmp_path, size_mb=3.0, seed=1, options=off)
    for rel in ("truth/messages.jsonl", "truth/files.jsonl", "README.md"):
        assert (tmp_path / rel).read_bytes() == (committed / rel).read_bytes(), rel
    logs = sorted((tmp_path).rglob("*.LOG"))
    for path in logs[:: max(1, len(logs) // 6)]:
        rel = path.relative_to(tmp_path)
        assert path.read_bytes() == (committed / rel).read_bytes(), rel


def test_regenerating_into_foreign_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("user data")
    with pytest.raises(FileExistsError):
        generate(tmp_path, size_mb=0.1)
    assert (tmp_path / "keep.txt").read_text() == "user data"


def test_layouts_default_custom_and_collector(make_corpus: Make) -> None:
    _, truth = make_corpus(layouts={"EX19MBX3": "collector"})
    folders = {f["server"]: set() for f in truth.files}
    for f in truth.files:
        folders[f["server"]].add(f["path"].rsplit("/", 1)[0])
    assert "EX19MBX1/ExchangeLogs/Frontend/ProtocolLog/SmtpReceive" in folders["EX19MBX1"]
    assert "EX19MBX1/ExchangeLogs/Hub/ProtocolLog/SmtpReceive" in folders["EX19MBX1"]
    assert "EX19MBX2/V15/TransportRoles/Logs/Hub/ProtocolLog/SmtpSend" in folders["EX19MBX2"]
    assert "EX19MBX3/FE_Receive_Protocol_Logs" in folders["EX19MBX3"]
    assert "EX19MBX3/Message_Tracking_Logs" in folders["EX19MBX3"]


def test_2013_daily_protocol_names_and_27_tracking_fields(make_corpus: Make) -> None:
    out, truth = make_corpus(version="2013")
    for f in truth.files:
        name = f["path"].rsplit("/", 1)[1]
        head, _ = parse_file(read_bytes(out, f["path"]))
        if f["log_type"] == "message-tracking":
            assert re.fullmatch(r"MSGTRK(MD|MS)?\d{10}-\d+\.LOG", name)
            assert len(head[4].split(",")) == 27
            assert head[1] == "#Version: 15.00.1497.010"
        else:
            assert re.fullmatch(r"(RECV|SEND|CONNECTLOG)\d{8}-\d+\.LOG", name)
            assert head[1] == "#Version: 15.0.0.0"
    text = b"".join(read_bytes(out, f["path"]) for f in truth.files)
    assert b"Hostname=EX19MBX" in text and b"KB/sec" not in text  # 2013 reply has no rate
    assert b",Certificate thumbprint\r\n" in text  # one row per certificate attribute


def test_2010_hub_only_daily_26_fields_and_short_internal_id(make_corpus: Make) -> None:
    out, truth = make_corpus(version="2010")
    assert {f["service"] for f in truth.files} == {"Hub"}
    assert not any(m["flow"] == "inbound" and len(m["hops"]) > 3 for m in truth.messages)
    text = b""
    for f in truth.files:
        head, _ = parse_file(read_bytes(out, f["path"]))
        assert "/V14/" in f["path"] or "/ExchangeLogs/" in f["path"]
        assert re.search(r"\d{8}-\d+\.LOG$", f["path"])
        if f["log_type"] == "message-tracking":
            assert len(head[4].split(",")) == 26 and "network-message-id" not in head[4]
        else:
            assert head[1] == "#Version: 14.0.0.0"
        text += read_bytes(out, f["path"])
    assert re.search(rb"\[InternalId=\d+\] Queued mail for delivery", text)
    assert b", Hostname=" not in text and b"XPROXY" not in text


def test_disabled_streams_write_nothing_and_leave_gaps(make_corpus: Make) -> None:
    _, truth = make_corpus(disabled=frozenset({"hub-send", "EX19MBX2:fe-send"}))
    assert not any(f["service"] == "Hub" and f["log_type"] == "smtp-send" for f in truth.files)
    assert not any(
        f["server"] == "EX19MBX2" and f["service"] == "FrontEnd" and f["log_type"] == "smtp-send"
        for f in truth.files
    )
    inbound = [m for m in truth.messages if m["flow"] == "inbound" and m["outcome"] == "delivered"]
    assert inbound
    for m in inbound:
        streams = [g["stream"] for g in m["gaps"]]
        assert "hub-send" in streams
        for gap in m["gaps"]:
            assert -1 <= gap["after"] < len(m["hops"])
        hub_send = next(g for g in m["gaps"] if g["stream"] == "hub-send")
        before = m["hops"][hub_send["after"]]
        assert (before["service"], before["direction"]) == ("Hub", "receive")


def test_clock_skew_shifts_one_servers_timestamps(make_corpus: Make) -> None:
    out, truth = make_corpus(clock_skew_s={"EX19MBX2": 90.0})
    sessions = protocol_sessions(out, truth)
    deltas = []
    for m in truth.messages:
        hops = m["hops"]
        for a, b in itertools.pairwise(hops):
            if (
                a["direction"] == "send"
                and b["direction"] == "receive"
                and a["server"] != b["server"]
            ):
                ra = sessions[a["server"], f"{a['service']}/smtp-send", a["session_id"]]
                rb = sessions[b["server"], f"{b['service']}/smtp-receive", b["session_id"]]
                connect_a = next(r[0] for r in ra if r[6] == "+")
                shift = (rb[0][0] > connect_a) if b["server"] == "EX19MBX2" else None
                if a["server"] == "EX19MBX2":
                    shift = rb[0][0] < connect_a
                if shift is not None:
                    deltas.append(shift)
    assert deltas and all(deltas)


def test_rollover_splits_files_and_sessions_span_them(make_corpus: Make) -> None:
    out, truth = make_corpus(max_file_bytes=6_000)
    names = [f["path"] for f in truth.files]
    assert any(n.endswith("-2.LOG") for n in names)
    assert all(len(read_bytes(out, n)) <= 6_000 + 2_000 for n in names)
    spanning = 0
    seen: dict[str, set[str]] = {}
    for f in truth.files:
        if f["log_type"] in ("smtp-receive", "smtp-send"):
            _, rows = parse_file(read_bytes(out, f["path"]))
            for r in rows:
                seen.setdefault(f["server"] + r[2], set()).add(f["path"])
    spanning = sum(1 for paths in seen.values() if len(paths) > 1)
    assert spanning > 0
    assert line_counts(out, truth) == {f["path"]: f["lines"] for f in truth.files}


def test_zip_servers_are_archives_with_bang_paths(make_corpus: Make) -> None:
    out, truth = make_corpus(zip_servers=("EX19MBX2",))
    assert (out / "EX19MBX2.zip").is_file() and not (out / "EX19MBX2").exists()
    members = [f["path"] for f in truth.files if f["server"] == "EX19MBX2"]
    assert members and all(p.startswith("EX19MBX2.zip!EX19MBX2/") for p in members)
    with zipfile.ZipFile(out / "EX19MBX2.zip") as zf:
        assert sorted(zf.namelist()) == sorted(p.split("!", 1)[1] for p in members)
    assert line_counts(out, truth) == {f["path"]: f["lines"] for f in truth.files}


def test_small_port_range_reuses_ports(make_corpus: Make) -> None:
    out, truth = make_corpus(ephemeral_ports=8)
    sessions = protocol_sessions(out, truth)
    locals_ = [rows[1][4] for key, rows in sessions.items() if key[1] == "Hub/smtp-send"]
    assert len(set(locals_)) < len(locals_)


@pytest.mark.parametrize(
    "bad",
    [
        {"version": "2007"},
        {"layouts": {"EX19MBX1": "flat"}},
        {"disabled": frozenset({"hub-sned"})},
        {"servers": ()},
        {"max_file_bytes": 10},
    ],
)
def test_invalid_options_are_rejected(tmp_path: Path, bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        generate(tmp_path, size_mb=0.1, options=SampleOptions(**bad))  # type: ignore[arg-type]


def test_transport_restart_starts_a_new_session_id_range(make_corpus: Make) -> None:
    out, truth = make_corpus(size_mb=1.0, restart=("EX19MBX2",))
    conn = [
        f for f in truth.files if f["server"] == "EX19MBX2" and f["path"].count("Hub/Connectivity")
    ]
    rows = [r for f in conn for r in parse_file(read_bytes(out, f["path"]))[1]]
    marks = [r for r in rows if r[2] == "Transport"]
    assert [r[5].split(";")[0] for r in marks] == ["service stopped", "service started"]
    assert all(r[1] == "" for r in marks)  # server-level rows have no session id
    started = marks[1][0]
    hub = [s for s in truth.sessions if s["server"] == "EX19MBX2" and s["service"] == "Hub"]
    sessions = protocol_sessions(out, truth)
    before = [
        int(s["session_id"], 16)
        for s in hub
        if sessions["EX19MBX2", f"Hub/smtp-{s['direction']}", s["session_id"]][0][0] < started
    ]
    after = [int(s["session_id"], 16) for s in hub if int(s["session_id"], 16) not in before]
    assert before and after and min(after) > max(before) + 10**8  # ticks of the new start


def test_custom_servers_and_start_across_midnight(tmp_path: Path) -> None:
    start = datetime(2025, 12, 31, 23, 40, tzinfo=UTC)
    opts = SampleOptions(servers=("EXA", "EXB"), start=start, version="2013")
    truth = generate(tmp_path, size_mb=0.5, options=opts)
    assert {f["server"] for f in truth.files} == {"EXA", "EXB"}
    names = {f["path"].rsplit("/", 1)[1] for f in truth.files}
    assert any(re.fullmatch(r"RECV20251231-1\.LOG", n) for n in names)
    assert any(re.fullmatch(r"RECV20260101-1\.LOG", n) for n in names)
    sessions = protocol_sessions(tmp_path, truth)
    local = {rows[0][4].split(":")[0] for key, rows in sessions.items() if "receive" in key[1]}
    assert local <= {"10.0.3.4", "10.0.3.5"}
