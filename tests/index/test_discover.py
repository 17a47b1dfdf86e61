"""discover(): every folder layout, loose files, zips and their guards, unreadable paths."""

from __future__ import annotations

import hashlib
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailhops.index import discover as discover_mod
from mailhops.index import schema
from mailhops.index.discover import Source, discover, path_hints

LOG = b"\xef\xbb\xbf#Software: Microsoft Exchange Server\r\n"

DEFAULT = "V15/TransportRoles/Logs"
LAYOUTS = [
    # (relative folder under the server folder, expected service hint)
    (f"{DEFAULT}/FrontEnd/ProtocolLog/SmtpReceive", schema.FRONTEND),
    (f"{DEFAULT}/FrontEnd/ProtocolLog/SmtpSend", schema.FRONTEND),
    (f"{DEFAULT}/FrontEnd/Connectivity", schema.FRONTEND),
    (f"{DEFAULT}/Hub/ProtocolLog/SmtpReceive", schema.HUB),
    (f"{DEFAULT}/Hub/Connectivity", schema.HUB),
    (f"{DEFAULT}/Mailbox/ProtocolLog/SmtpReceive/Delivery", schema.MAILBOX_DELIVERY),
    (f"{DEFAULT}/Mailbox/ProtocolLog/SmtpSend/Submission", schema.MAILBOX_SUBMISSION),
    (f"{DEFAULT}/Mailbox/Connectivity/Delivery", schema.MAILBOX_DELIVERY),
    (f"{DEFAULT}/MessageTracking", ""),
    (f"{DEFAULT}/Edge/ProtocolLog/SmtpReceive", schema.EDGE),
    ("ExchangeLogs/Frontend/ProtocolLog/SmtpReceive", schema.FRONTEND),
    ("ExchangeLogs/Hub/ProtocolLog/SmtpSend", schema.HUB),
    ("ExchangeLogs/Hub/Connectivity", schema.HUB),
    ("ExchangeLogs/Mailbox/ProtocolLog/SmtpReceive/Delivery", schema.MAILBOX_DELIVERY),
    ("ExchangeLogs/MessageTracking", ""),
    ("FE_Receive_Protocol_Logs", schema.FRONTEND),
    ("FE_Connectivity_Logs", schema.FRONTEND),
    ("Hub_Send_Protocol_Logs", schema.HUB),
    ("MBX_Receive_Protocol_Logs", schema.MAILBOX_DELIVERY),
    ("MBX_Send_Protocol_Logs/Submission", schema.MAILBOX_SUBMISSION),
    ("MBX_Delivery_Connectivity_Logs", schema.MAILBOX_DELIVERY),
    ("MBX_Submission_Connectivity_Logs", schema.MAILBOX_SUBMISSION),
    ("Message_Tracking_Logs", ""),
    ("V14/TransportRoles/Logs/ProtocolLog/SmtpReceive", schema.HUB),
    ("V14/TransportRoles/Logs/Connectivity", schema.HUB),
    (
        "Program Files/Microsoft/Exchange Server/V15/TransportRoles/Logs/Hub/Connectivity",
        schema.HUB,
    ),
    ("v15/transportroles/logs/frontend/protocollog/smtpreceive", schema.FRONTEND),
]


def write(path: Path, data: bytes = LOG) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def tree_digest(top: Path) -> dict[str, tuple[str, int]]:
    out = {}
    for p in sorted(top.rglob("*")):
        if p.is_file():
            out[str(p)] = (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
    return out


@pytest.mark.parametrize(("folder", "service"), LAYOUTS)
def test_layout_hints(tmp_path: Path, folder: str, service: str) -> None:
    server_dir = tmp_path / "ex19mbx1.contoso.lab"
    f = write(server_dir / folder / "RECV2023011116-1.LOG")
    sources, problems = discover([tmp_path])
    assert problems == []
    assert [s.path for s in sources] == [str(f)]
    s = sources[0]
    assert (s.server_hint, s.service_hint, s.root) == ("EX19MBX1", service, str(server_dir))
    assert s.size == len(LOG) and s.mtime_ns == f.stat().st_mtime_ns


def test_many_servers_and_non_logs(tmp_path: Path) -> None:
    for server in ("EX1", "EX2", "EX3"):
        write(tmp_path / server / DEFAULT / "Hub/ProtocolLog/SmtpReceive/RECV2023011116-1.LOG")
        write(tmp_path / server / DEFAULT / "Hub/ProtocolLog/SmtpReceive/recv2023011117-1.log")
    write(tmp_path / "truth/files.jsonl", b"{}")
    write(tmp_path / "README.md", b"x")
    sources, problems = discover([tmp_path])
    assert problems == []
    assert len(sources) == 6 and {s.server_hint for s in sources} == {"EX1", "EX2", "EX3"}
    assert [s.path for s in sources] == sorted(s.path for s in sources)


def test_loose_file_given_explicitly_is_always_a_candidate(tmp_path: Path) -> None:
    f = write(tmp_path / "copied.txt")
    g = write(tmp_path / "RECV20230111-1.LOG")
    sources, problems = discover([f, g, g])  # duplicates collapse
    assert problems == []
    assert [s.path for s in sources] == sorted([str(f), str(g)])
    assert all((s.server_hint, s.service_hint, s.root) == ("", "", "") for s in sources)


def test_path_with_nul_is_a_problem() -> None:
    sources, problems = discover(["/tmp/bad\x00name"])
    assert sources == [] and [p.severity for p in problems] == [schema.ERROR]


def test_fifo_given_explicitly_is_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "RECV1-1.LOG"
    os.mkfifo(fifo)
    sources, problems = discover([fifo])
    assert sources == [] and [p.reason for p in problems] == ["not a regular file: skipped"]


def test_missing_path_is_a_problem(tmp_path: Path) -> None:
    sources, problems = discover([tmp_path / "nope"])
    assert sources == []
    assert [(p.line, p.severity) for p in problems] == [(0, schema.ERROR)]
    assert "nope" in problems[0].path


def test_unreadable_folder_is_a_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "EX1" / DEFAULT / "Hub/Connectivity/CONNECTLOG2023011116-1.LOG")
    real_walk = os.walk

    def walk(
        top: str, onerror: object = None, **kw: object
    ) -> Iterator[tuple[str, list[str], list[str]]]:
        assert callable(onerror)
        onerror(PermissionError(13, "Permission denied", str(Path(top) / "locked")))
        yield from real_walk(top, **kw)  # type: ignore[call-overload]

    monkeypatch.setattr(discover_mod.os, "walk", walk)
    sources, problems = discover([tmp_path])
    assert len(sources) == 1
    assert [(p.path.endswith("locked"), p.reason) for p in problems] == [
        (True, "Permission denied")
    ]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files regardless of permissions")
def test_chmod_000_file(tmp_path: Path) -> None:
    f = write(tmp_path / "RECV20230111-1.LOG")
    f.chmod(0)
    sources, _ = discover([tmp_path])
    with pytest.raises(OSError):
        sources[0].read()


def test_read_is_read_only_and_releases_handles(tmp_path: Path) -> None:
    f = write(tmp_path / "EX1" / DEFAULT / "Hub/Connectivity/CONNECTLOG2023011116-1.LOG", LOG * 3)
    before = tree_digest(tmp_path)
    fds = len(os.listdir("/proc/self/fd"))
    sources, _ = discover([tmp_path])
    assert sources[0].read() == LOG * 3
    assert sources[0].read(len(LOG)) == LOG * 2
    assert len(os.listdir("/proc/self/fd")) == fds
    assert tree_digest(tmp_path) == before
    f.unlink()  # rotated away between discovery and reading: OSError, which build reports
    with pytest.raises(OSError):
        sources[0].read()


def make_zip(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_zip_members_read_in_memory(tmp_path: Path) -> None:
    inner = f"EX3/{DEFAULT}/Hub/ProtocolLog/SmtpReceive/RECV2023011116-1.LOG"
    z = make_zip(tmp_path / "EX3.zip", {inner: LOG * 2, "EX3/notes.txt": b"x"})
    before = tree_digest(tmp_path)
    sources, problems = discover([tmp_path])
    assert problems == []
    (s,) = sources
    assert s.path == f"{z}!{inner}" and s.size == len(LOG) * 2
    assert (s.server_hint, s.service_hint, s.root) == ("EX3", schema.HUB, f"{z}!EX3")
    assert s.read() == LOG * 2 and s.read(len(LOG)) == LOG
    assert tree_digest(tmp_path) == before  # nothing extracted


def test_zip_stem_is_the_server_when_the_archive_starts_at_the_anchor(tmp_path: Path) -> None:
    z = make_zip(tmp_path / "EX2.zip", {"FE_Receive_Protocol_Logs/RECV2023011116-1.LOG": LOG})
    sources, _ = discover([z])  # an explicit zip
    assert (sources[0].server_hint, sources[0].service_hint, sources[0].root) == (
        "EX2",
        schema.FRONTEND,
        f"{z}!",
    )


def test_zip_traversal_members_are_reported_and_skipped(tmp_path: Path) -> None:
    names = ["../evil.log", "/etc/abs.log", "C:/win.log", "a/../../up.log", "ok/RECV1-1.LOG"]
    z = make_zip(tmp_path / "x.zip", {n: LOG for n in names})
    sources, problems = discover([z])
    assert [s.member for s in sources] == ["ok/RECV1-1.LOG"]
    assert len(problems) == 4 and all("path traversal" in p.reason for p in problems)
    assert not (tmp_path.parent / "evil.log").exists()


def test_zip_oversized_and_bomb_members(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(discover_mod, "MAX_MEMBER_BYTES", 100_000)
    monkeypatch.setattr(discover_mod, "_RATIO_MIN_BYTES", 10_000)
    z = make_zip(
        tmp_path / "x.zip",
        {"big.log": os.urandom(200_000), "bomb.log": b"\0" * 90_000, "ok.log": LOG},
    )
    sources, problems = discover([z])
    assert [s.member for s in sources] == ["ok.log"]
    reasons = sorted(p.reason.split(" ")[0] for p in problems)
    assert reasons == ["member", "suspicious"]


def test_broken_and_nested_zips(tmp_path: Path) -> None:
    broken = write(tmp_path / "broken.zip", b"PK\x03\x04 not really a zip")
    nested = make_zip(tmp_path / "outer.zip", {"inner.zip": b"PK", "a.log": LOG})
    sources, problems = discover([broken, nested])
    assert [s.member for s in sources] == ["a.log"]
    assert [(p.severity, p.path) for p in problems] == [
        (schema.ERROR, str(broken)),
        (schema.WARNING, f"{nested}!inner.zip"),
    ]


def test_zip_member_read_failure_is_an_oserror(tmp_path: Path) -> None:
    z = make_zip(tmp_path / "x.zip", {"a.log": LOG})
    (s,) = discover([z])[0]
    z.write_bytes(b"garbage")  # replaced after discovery
    with pytest.raises(OSError):
        s.read()


def test_source_subclass_read_error_is_oserror() -> None:
    class Locked(Source):
        def read(self, offset: int = 0) -> bytes:
            raise PermissionError(13, "Permission denied")

    with pytest.raises(OSError):
        Locked("x.log", 1, 0).read()


def test_path_hints_skip_generic_names() -> None:
    parts = ["", "data", "EX5", "C$", "Program Files", "Microsoft", "Exchange Server", "V15"]
    idx, server, service = path_hints([*parts, "TransportRoles", "Logs", "Hub", "Connectivity"])
    assert (idx, server, service) == (2, "EX5", schema.HUB)
    assert path_hints(["tmp", "logs"]) == (-1, "", "")
