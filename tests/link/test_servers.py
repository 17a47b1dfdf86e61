"""Server identity: aliases learned from the logs, and the --servers file (text and JSON)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from chainfix import fe_receive, fe_send, hub_receive, hub_send, md_receive
from frames import tracking

from mailhops.index.servers import ServerMap, ServersFileError, learn_servers, read_servers_file


def _lines() -> pl.LazyFrame:
    return pl.concat([fe_receive(), fe_send(), hub_receive(), hub_send(), md_receive()]).lazy()


def test_learns_short_name_fqdn_and_ip_of_each_server() -> None:
    sm = learn_servers(_lines())
    assert sm.resolve("10.0.3.4") == "EX1"
    assert sm.resolve("10.0.3.5:2525") == "EX2"
    assert sm.resolve("EX3.contoso.lab") == "EX3"
    assert sm.resolve("ex2") == "EX2"
    assert sm.resolve("198.51.100.7") is None  # the Internet client is no server
    assert sm.resolve("") is None


def test_starttls_reply_is_not_a_banner() -> None:
    sm = learn_servers(_lines())
    assert "2.0.0" not in sm.aliases["alias"].to_list()


def test_tracking_server_hostname_and_ip_are_learned() -> None:
    trk = tracking(
        [
            {
                "server": "EX9",
                "service": "Hub",
                "event_id": "RECEIVE",
                "source": "SMTP",
                "server_hostname": "EX9",
                "server_ip": "10.9.9.9",
            }
        ]
    )
    sm = learn_servers(_lines(), trk)
    assert sm.resolve("10.9.9.9") == "EX9"


def test_servers_file_text_maps_nat_addresses(tmp_path: Path) -> None:
    f = tmp_path / "servers.txt"
    f.write_text("# NAME aliases and IPs\nEX2 mail.contoso.lab 192.0.2.10  # VIP\n\nEX1 10.9.0.4\n")
    sm = learn_servers(_lines(), None, f)
    assert sm.resolve("192.0.2.10") == "EX2"
    assert sm.resolve("mail.contoso.lab") == "EX2"
    assert sm.resolve("10.9.0.4") == "EX1"
    assert sm.resolve("10.0.3.4") == "EX1"  # what the logs said still holds


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig", "utf-8"])
def test_servers_file_as_windows_powershell_writes_it(tmp_path: Path, encoding: str) -> None:
    """PowerShell 5.1's Out-File and > write UTF-16 with a BOM; Notepad UTF-8 with one."""
    f = tmp_path / "servers.txt"
    f.write_bytes("EX2 mail.contoso.lab 192.0.2.10\r\nEX1 10.9.0.4\r\n".encode(encoding))
    sm = ServerMap(read_servers_file(f))
    assert sm.resolve("192.0.2.10") == "EX2" and sm.resolve("10.9.0.4") == "EX1"


def test_servers_file_json(tmp_path: Path) -> None:
    f = tmp_path / "servers.json"
    f.write_text('{"ex7": ["ex7.contoso.lab", "10.7.7.7"]}')
    sm = ServerMap(read_servers_file(f))
    assert sm.resolve("10.7.7.7") == "EX7"
    assert sm.resolve("ex7.contoso.lab") == "EX7"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10.0.0.1 EX1\n", ":1: a line starts with the server name"),
        ('{"EX1": "x"}', "list of strings"),
        ("{bad json", "invalid JSON"),
        ("[1, 2]", "a JSON servers file is an object"),
    ],
)
def test_bad_servers_file_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "servers.txt"
    f.write_text(text)
    with pytest.raises(ServersFileError, match=message):
        read_servers_file(f)


def test_missing_servers_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ServersFileError, match="cannot read servers file"):
        read_servers_file(tmp_path / "nope.txt")


def test_servers_file_repairs_a_link_behind_nat(tmp_path: Path) -> None:
    """The Hub sees the FE through a NAT address: XPROXYFROM still links, and with the
    servers file the peer check knows the NAT address is the FE."""
    from helpers import edges, link

    c = hub_receive().with_columns(remote_ep=pl.lit("192.0.2.10:40001"))
    f = tmp_path / "servers.txt"
    f.write_text("EX1 192.0.2.10\n")
    out = link(fe_send(), c, servers_file=str(f))
    assert {e[2].rsplit("|", 1)[1] for e in edges(out, "xproxy_sid")} == {"08D00000000000C1"}
    f.write_text("EX5 192.0.2.10\n")  # the NAT address belongs to another server: no link
    assert edges(link(fe_send(), c, servers_file=str(f)), "xproxy_sid") == set()
