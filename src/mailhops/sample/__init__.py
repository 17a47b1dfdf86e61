"""Deterministic generator of realistic multi-server Exchange transport logs plus ground truth.

``generate(outdir, size_mb=3.0, seed=1, options=SampleOptions())`` writes the log tree of the
lab in log-formats.md §9 (EX19MBX1..3, 10.0.3.4..6) exactly in Exchange's formats: protocol
logs (FE, Hub, Mailbox Delivery, Mailbox Submission), connectivity logs and message tracking
logs, and returns/writes the :class:`Truth` (``<out>/truth/*.jsonl``).

Options (:class:`SampleOptions`): ``servers``; ``layouts`` per server (``custom`` =
``ExchangeLogs/Frontend/ProtocolLog/...`` like a ``-LogPath`` of D:\\ExchangeLogs,
``default`` = ``V15/TransportRoles/Logs/...``, ``collector`` = ExchangeLogCollector folders);
``version`` 2019/2016 (hourly names), 2013 (daily protocol/connectivity names, 27 tracking
fields), 2010 (Hub only, daily, 26 tracking fields, ``[InternalId=R]``); ``max_file_bytes``
(rollover to ``-N`` files); ``disabled`` streams (``hub-send`` or ``EX19MBX2:hub-send``: the
hop still happens but is not written; the truth records a gap); ``clock_skew_s`` per server;
``start``; ``zip_servers`` (``<out>/<SERVER>.zip``); ``ephemeral_ports`` (small = port reuse);
``restart`` (servers whose Transport service restarts halfway: new session-id range);
``edge`` (Edge Transport servers, 2013+: Internet mail then arrives through them).

Truth hops: protocol-log sessions in path order with ``msg`` = ordinal of the MAIL FROM
transaction in that session, or -1 for sessions that carry the message without a MAIL FROM of
their own (blindly proxied FE sessions, a failed proxy connection).
"""

from mailhops.sample.generate import generate
from mailhops.sample.model import STREAMS, SampleOptions
from mailhops.sample.truth import Truth

__all__ = ["STREAMS", "SampleOptions", "Truth", "generate"]
