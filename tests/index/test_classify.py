"""classify() and resolve_servers(): server/service evidence and its stated source."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from mailhops.index import schema
from mailhops.index.classify import Classification, classify, resolve_servers
from mailhops.index.discover import Source
from mailhops.index.parse import BOM, parse

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
FIELDS = (
    "date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,"
    "event,data,context"
)


def protocol(kind: str, connectors: list[str], data: str = "", local: str = "10.0.3.4:25") -> bytes:
    head = (
        f"#Software: Microsoft Exchange Server\r\n#Version: 15.0.0.0\r\n#Log-type: SMTP {kind} "
        f"Protocol Log\r\n#Date: 2023-01-11T16:00:04.113Z\r\n#Fields: {FIELDS}\r\n"
    )
    rows = [
        f"2023-01-11T15:59:51.433Z,{c},08DA9806C5B670C1,{i},{local},10.0.3.9:2525,>,{data},\r\n"
        for i, c in enumerate(connectors)
    ]
    return BOM + (head + "".join(rows)).encode()


def t(c: Classification) -> tuple[str, str, str, str]:
    return (c.server, c.server_source, c.service, c.direction)


def src(path: str = "/x/file.LOG", server: str = "", service: str = "", root: str = "") -> Source:
    return Source(path, 1, 0, root, server, service)


@pytest.mark.parametrize(
    ("connector", "service"),
    [
        ("EX1\\Default Frontend EX1", schema.FRONTEND),
        ("EX1\\Client Frontend EX1", schema.FRONTEND),
        ("EX1\\Outbound Proxy Frontend EX1", schema.FRONTEND),
        ("EX1\\Default EX1", schema.HUB),
        ("EX1\\Client Proxy EX1", schema.HUB),
        ("EX1\\Default Mailbox Delivery EX1", schema.MAILBOX_DELIVERY),
        ("EX1\\Default internal receive connector EX1", schema.EDGE),
    ],
)
def test_receive_connector_names(connector: str, service: str) -> None:
    c = classify(
        src(server="PATHNAME", service=schema.HUB), parse(protocol("Receive", [connector]), "r")
    )
    assert t(c) == ("EX1", "connector", service, schema.RECEIVE)


def test_custom_receive_connector_uses_path_then_unknown() -> None:
    parsed = parse(protocol("Receive", ["EX1\\Internet Mail"] * 3), "r")
    assert classify(src(service=schema.FRONTEND), parsed).service == schema.FRONTEND
    assert classify(src(), parsed).service == schema.UNKNOWN


def test_receive_majority_connector_wins() -> None:
    names = ["EX1\\Default Frontend EX1"] * 3 + ["EX1\\Default EX1"]
    assert classify(src(), parse(protocol("Receive", names), "r")).service == schema.FRONTEND


@pytest.mark.parametrize(
    ("connector", "hint", "service"),
    [
        ("Inbound Proxy Internal Send Connector", schema.HUB, schema.FRONTEND),
        ("Client Proxy Send Connector", "", schema.FRONTEND),
        ("Outbound Proxy External Send Connector", "", schema.FRONTEND),
        ("Outbound Proxy Internal Send Connector", "", schema.HUB),
        ("Mailbox Proxy Send Connector", "", schema.MAILBOX_SUBMISSION),
        ("Intra-Organization SMTP Send Connector", "", schema.HUB),
        (
            "Intra-Organization SMTP Send Connector",
            schema.MAILBOX_DELIVERY,
            schema.MAILBOX_DELIVERY,
        ),
        ("To Internet", "", schema.HUB),
    ],
)
def test_send_connector_names(connector: str, hint: str, service: str) -> None:
    c = classify(src(service=hint), parse(protocol("Send", [connector]), "s"))
    assert (c.service, c.direction) == (service, schema.SEND)


def test_send_server_from_path_then_own_ehlo_then_unknown() -> None:
    internal = parse(
        protocol("Send", ["Intra-Organization SMTP Send Connector"], "EHLO ex7.contoso.lab"), "s"
    )
    external = parse(protocol("Send", ["To Internet"], "EHLO mail.contoso.com"), "s")
    assert t(classify(src(server="EX19MBX1"), internal))[:2] == ("EX19MBX1", "path")
    assert t(classify(src(), internal))[:2] == ("EX7", "banner")
    assert t(classify(src(), external))[:2] == ("", "unknown")  # an explicit connector's FQDN


def test_fixture_files() -> None:
    send = parse((FIXTURES / "send_fe_2019.log").read_bytes(), "s")
    assert t(classify(src(), send))[:3] == ("EX19MBX1", "banner", schema.FRONTEND)
    recv = parse((FIXTURES / "recv_2010.log").read_bytes(), "r")
    assert t(classify(src(), recv))[:2] == ("TAIL-EXCH-1", "connector")
    conn = parse((FIXTURES / "connectivity_2019.log").read_bytes(), "c")
    assert t(classify(src(service=schema.FRONTEND), conn))[2:] == (schema.FRONTEND, "")
    assert t(classify(src(), conn))[:3] == ("", "unknown", schema.UNKNOWN)


@pytest.mark.parametrize(
    ("name", "service"),
    [
        ("MSGTRK2023011116-1.LOG", schema.HUB),
        ("MSGTRKMD2023011116-1.LOG", schema.MAILBOX_DELIVERY),
        ("MSGTRKMS2023011116-1.LOG", schema.MAILBOX_SUBMISSION),
        ("msgtrkma2023011116-1.log", schema.HUB),
    ],
)
def test_tracking_prefix_and_server(name: str, service: str) -> None:
    for fixture in ("tracking_2019.log", "tracking_2010.log"):
        parsed = parse((FIXTURES / fixture).read_bytes(), name)
        c = classify(src(path=f"/a/b/{name}"), parsed)
        assert (c.server, c.server_source, c.service, c.direction) == (
            "EX19MBX3",
            "tracking",
            service,
            "",
        )


def test_tracking_host_name_without_receive_rows() -> None:
    data = (FIXTURES / "tracking_2019.log").read_bytes().replace(b"EX19MBX3\\Default", b"Default")
    c = classify(src(path="/MSGTRKMD1-1.LOG"), parse(data, "t"))
    assert c.server == "EX19MBX3" and c.server_source == "tracking"  # SEND row's host ignored


def test_connectivity_mapi_sources() -> None:
    data = (FIXTURES / "connectivity_2019.log").read_bytes().replace(b",SMTP,", b",MapiDelivery,")
    assert classify(src(), parse(data, "c")).service == schema.MAILBOX_DELIVERY


def files_frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    base = {k: None for k in schema.FILES}
    full = [{**base, **r} for r in rows]
    return pl.DataFrame(full, schema=schema.FILES)


def test_resolve_servers_by_root_then_ip() -> None:
    files = files_frame(
        [
            dict(
                file_id=1,
                server="EX1",
                server_source="connector",
                log_type=schema.SMTP_RECEIVE,
                root="/l/EX1",
            ),
            dict(
                file_id=2,
                server="",
                server_source="unknown",
                log_type=schema.SMTP_SEND,
                root="/l/EX1",
            ),
            dict(
                file_id=3,
                server="WRONG",
                server_source="path",
                log_type=schema.SMTP_SEND,
                root="/l/EX1",
            ),
            dict(
                file_id=4,
                server="EX2",
                server_source="connector",
                log_type=schema.SMTP_RECEIVE,
                root="",
            ),
            dict(file_id=5, server="", server_source="unknown", log_type=schema.SMTP_SEND, root=""),
            dict(file_id=6, server="", server_source="unknown", log_type=schema.SMTP_SEND, root=""),
            dict(
                file_id=7, server="", server_source="unknown", log_type=schema.CONNECTIVITY, root=""
            ),
            dict(
                file_id=8, server="EX3", server_source="banner", log_type=schema.SMTP_SEND, root=""
            ),
        ]
    )
    lines = pl.LazyFrame(
        {
            "file_id": [1, 4, 4, 5, 5, 5, 6, 6],
            "local_ep": [
                "10.0.3.4:25",
                "10.0.3.5:2525",
                "127.0.0.1:25",
                "",
                "10.0.3.5:40001",
                None,
                "127.0.0.1:1",
                "10.9.9.9:5",
            ],
        },
        schema_overrides={"file_id": pl.UInt32},
    )
    out = resolve_servers(files, lines)
    assert out.columns == files.columns
    got = dict(
        zip(
            out["file_id"].to_list(),
            zip(out["server"], out["server_source"], strict=True),
            strict=True,
        )
    )
    assert got == {
        1: ("EX1", "connector"),
        2: ("EX1", "path"),
        3: ("EX1", "path"),
        4: ("EX2", "connector"),
        5: ("EX2", "ip"),
        6: ("", "unknown"),  # loopback and an IP no receive log uses tell nothing
        7: ("", "unknown"),
        8: ("EX3", "banner"),
    }


def test_resolve_servers_ambiguous_ip_is_not_used() -> None:
    files = files_frame(
        [
            dict(
                file_id=1,
                server="EX1",
                server_source="connector",
                log_type=schema.SMTP_RECEIVE,
                root="",
            ),
            dict(
                file_id=2,
                server="EX2",
                server_source="connector",
                log_type=schema.SMTP_RECEIVE,
                root="",
            ),
            dict(file_id=3, server="", server_source="unknown", log_type=schema.SMTP_SEND, root=""),
        ]
    )
    lines = pl.LazyFrame(
        {"file_id": [1, 2, 3], "local_ep": ["10.0.0.1:25", "10.0.0.1:25", "10.0.0.1:4000"]},
        schema_overrides={"file_id": pl.UInt32},
    )
    out = resolve_servers(files, lines)
    assert out.filter(pl.col("file_id") == 3).select("server", "server_source").row(0) == (
        "",
        "unknown",
    )
