"""The people, databases and Internet parties of the simulated organisation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from mailhops.sample.core import Sim
from mailhops.sample.model import DOMAIN
from mailhops.sample.truth import Mail

_FIRST: Final = (
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "frank",
    "grace",
    "heidi",
    "ivan",
    "judy",
    "mallory",
    "niaj",
    "olivia",
    "peggy",
    "rupert",
    "sybil",
    "trent",
    "victor",
    "walter",
    "zoe",
    "amir",
    "bea",
    "chen",
    "dario",
    "elif",
    "femi",
    "goran",
    "hana",
    "ines",
    "jonas",
)
_LAST: Final = (
    "smith",
    "garcia",
    "mueller",
    "rossi",
    "tanaka",
    "novak",
    "silva",
    "kowalski",
    "dubois",
    "jensen",
    "okafor",
    "larsen",
)
_EXTERNAL: Final = (
    ("fabrikam.com", "mail.fabrikam.com"),
    ("adatum.com", "mx1.adatum.com"),
    ("northwindtraders.com", "smtp.northwindtraders.com"),
    ("tailspintoys.com", "mx.tailspintoys.com"),
    ("wingtiptoys.com", "mail-out.wingtiptoys.com"),
    ("litware.com", "mx01.litware.com"),
    ("proseware.com", "relay.proseware.com"),
    ("woodgrovebank.com", "mx2.woodgrovebank.com"),
    ("fourthcoffee.com", "mta.fourthcoffee.com"),
    ("treyresearch.net", "mx.treyresearch.net"),
)
_SUBJECTS: Final = (
    "Quarterly report",
    "Re: invoice 4471",
    "Meeting notes",
    "Fwd: shipment delayed",
    "Password expiry notice",
    "Lunch on Friday?",
    "Contract draft v3",
    "Re: Re: server outage",
    "Your order has shipped",
    "Weekly newsletter",
    "Holiday schedule, updated",
    'Re: "urgent" request',
)
LB_IPS: Final = ("10.0.2.10", "10.0.2.11")
_UTF8_NAMES: Final = ("jos\u00e9", "m\u00fcller.k", "s\u00f8ren", "fran\u00e7oise", "\u0161imon")


def endpoint(ip: str, port: int) -> str:
    """``IPEndPoint.ToString()``: ``1.2.3.4:25`` or ``[2001:db8::1]:25``."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


@dataclass(frozen=True)
class Database:
    """A mailbox database and the server holding its active copy."""

    name: str
    guid: str  # dashed lower-case
    server: str

    @property
    def guid_n(self) -> str:
        """The GUID as ``ToString("N")`` (32 hex, no dashes), as in XSESSIONPARAMS."""
        return self.guid.replace("-", "")


def guid(sim: Sim) -> str:
    """A random GUID string (lower-case, dashed)."""
    h = f"{sim.rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


class Lab:
    """Static people and places; every random choice goes through the Sim's rng."""

    def __init__(self, sim: Sim) -> None:
        self.sim = sim
        self.dbs = [Database(f"DB{i + 1:02d}", guid(sim), s) for i, s in enumerate(sim.servers)]
        self.users: list[tuple[str, Database, str]] = []
        for i in range(60):
            first = _FIRST[i % len(_FIRST)]
            last = _LAST[(i * 7) % len(_LAST)]
            address = f"{first}.{last}@{DOMAIN}"
            self.users.append((address, self.dbs[i % len(self.dbs)], guid(sim)))
        self.connector_guid = guid(sim)
        self._mx_ips = {d: f"198.51.100.{10 + i * 7}" for i, (d, _) in enumerate(_EXTERNAL)}
        self._msg_no = 0

    def user(self) -> tuple[str, Database, str]:
        """A random internal user: (address, database, mailbox guid)."""
        return self.users[self.sim.rng.randrange(len(self.users))]

    def users_of(self, db: Database, count: int) -> list[str]:
        """``count`` distinct users of one database."""
        pool = [u[0] for u in self.users if u[1] == db]
        return self.sim.rng.sample(pool, min(count, len(pool)))

    def external(self) -> tuple[str, str, str, str]:
        """An Internet party: (address, domain, mx host, mx ip)."""
        rng = self.sim.rng
        domain, host = _EXTERNAL[rng.randrange(len(_EXTERNAL))]
        if rng.random() < 0.04:  # SMTPUTF8 senders: the data column holds raw UTF-8
            name = _UTF8_NAMES[rng.randrange(len(_UTF8_NAMES))]
        else:
            name = f"{_FIRST[rng.randrange(len(_FIRST))]}{rng.randrange(100)}"
        return f"{name}@{domain}", domain, host, self._mx_ips[domain]

    def mx(self, domain: str) -> tuple[str, str]:
        """The MX host name and IP of an external domain."""
        for name, host in _EXTERNAL:
            if name == domain:
                return host, self._mx_ips[name]
        raise KeyError(domain)

    def internet_client(self) -> tuple[str, int, str]:
        """A connecting Internet MTA: (ip, port, HELO name); some connect over IPv6."""
        rng = self.sim.rng
        _, host = _EXTERNAL[rng.randrange(len(_EXTERNAL))]
        if rng.random() < 0.06:
            ip = f"2001:db8:{rng.randrange(1, 0xFFFF):x}::{rng.randrange(1, 0xFFFF):x}"
        else:
            net = ("203.0.113", "192.0.2", "198.51.100")[rng.randrange(3)]
            ip = f"{net}.{rng.randrange(2, 250)}"
        helo = host if rng.random() < 0.85 else f"[{ip}]"
        return ip, rng.randrange(1024, 65535), helo

    def mail(self, sender: str, recipients: list[str], flow: str, id_host: str) -> Mail:
        """A new message with a realistic Message-ID for where it was created."""
        rng = self.sim.rng
        self._msg_no += 1
        if id_host.endswith(DOMAIN):
            mid = f"<{guid(self.sim)}@{id_host}>"
        else:
            mid = f"<{rng.getrandbits(64):016x}.{self._msg_no}@{id_host}>"
        size = int(rng.lognormvariate(9.6, 1.0)) + 900
        subject = _SUBJECTS[rng.randrange(len(_SUBJECTS))]
        return Mail(mid, sender, recipients, flow, size, subject)
