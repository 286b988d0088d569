"""The RADIUS server: one UDP socket on an asyncio loop (``vahva radius serve``).

What it does with a datagram, in order:

1. the source address must belong to a configured client (else: dropped);
2. the packet must decode and authenticate with that client's secret, Access-Requests and
   Status-Server with a Message-Authenticator (else: dropped, :mod:`.packets`);
3. a retransmission (same client, identifier and authenticator within
   ``RADIUS_REPLAY_WINDOW`` seconds) gets the answer already sent, or nothing while the first
   copy is still being handled: a request is never processed twice;
4. Status-Server gets an Access-Accept (RFC 5997), Accounting-Request an
   Accounting-Response (acknowledged, not stored), Access-Request its answer from
   :func:`.exchange.handle`, on a task of its own.

Drops are counted (:attr:`RadiusServer.drops`) and audited as ``radius.dropped``, at most
once a minute per address and reason, so a flood cannot fill the log. No datagram, however
mangled, stops the server.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from typing import Any

from vahva.audit.log import record
from vahva.conf import settings
from vahva.signin import nonbrowser

from . import clients, exchange, packets
from .clients import KnownClient
from .packets import Code, Drop, DropReason, Request

log = logging.getLogger(__name__)

#: Seconds between reloads of the clients (a new client works without a restart).
RELOAD_CLIENTS = 10.0
#: Seconds between two audit rows (and log lines) for the same address and drop reason.
DROP_LOG_INTERVAL = 60.0
#: Answers kept for retransmissions, at most.
REPLAY_CACHE_SIZE = 10_000

ReplayKey = tuple[int, str, int, bytes]


class ReplayCache:
    """Recent requests by (client, address, identifier, authenticator): the answer sent, or
    None while the request is being handled. Bounded in time and size."""

    def __init__(self, window: float, *, size: int = REPLAY_CACHE_SIZE) -> None:
        self.window = window
        self.size = size
        self._entries: OrderedDict[ReplayKey, tuple[float, bytes | None]] = OrderedDict()

    def _expire(self, now: float) -> None:
        while self._entries:
            key, (at, _answer) = next(iter(self._entries.items()))
            if now - at < self.window and len(self._entries) < self.size:
                return
            del self._entries[key]

    def seen(self, key: ReplayKey, now: float) -> tuple[bool, bytes | None]:
        """(True, answer or None) for a request seen within the window; (False, None) for a
        new one, which is then remembered as in progress."""
        self._expire(now)
        if key in self._entries:
            return True, self._entries[key][1]
        self._entries[key] = (now, None)
        return False, None

    def answered(self, key: ReplayKey, answer: bytes | None, now: float) -> None:
        if key in self._entries:
            self._entries[key] = (self._entries[key][0], answer)

    def __len__(self) -> int:
        return len(self._entries)


class RadiusServer(asyncio.DatagramProtocol):
    def __init__(
        self,
        known: list[KnownClient],
        *,
        loader: Callable[[], list[KnownClient]] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clients = known
        self.loader = loader
        self.monotonic = monotonic
        # A request waiting for the app is still in the cache when the NAS retransmits it.
        window = max(settings.RADIUS_REPLAY_WINDOW, settings.RADIUS_PUSH_WAIT + 5)
        self.replays = ReplayCache(float(window))
        self.drops: Counter[str] = Counter()
        self.answered: Counter[str] = Counter()
        self.transport: asyncio.DatagramTransport | None = None
        self._dropped_at: dict[tuple[str, str], float] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._last_reload = monotonic()

    # --- asyncio ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A datagram endpoint's transport.
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        try:
            self._received(data, addr)
        except Exception:
            # Garbage must never stop the server: log it (with the traceback) and go on.
            log.exception("radius: could not handle a datagram from %s", addr[0])
            self.drops["error"] += 1

    def error_received(self, exc: Exception) -> None:
        log.warning("radius: socket error: %s", exc)

    # --- the steps -------------------------------------------------------------------------

    def _received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        address = str(addr[0])
        self._maybe_reload()
        client = clients.client_for(self.clients, address)
        if client is None:
            # Not a client of ours: no answer, so nothing about vahva is learnt from probing.
            self._drop(DropReason.UNKNOWN_CLIENT, address)
            return
        parsed = packets.parse(data, client.secret, source=address)
        if isinstance(parsed, Drop):
            self._drop(parsed.reason, address, client)
            return
        key: ReplayKey = (client.pk, address, parsed.identifier, parsed.authenticator)
        now = self.monotonic()
        seen, earlier = self.replays.seen(key, now)
        if seen:
            # A retransmission (or a replay) is never processed twice.
            if earlier is not None:
                self._send(earlier, addr)
            else:
                self._drop(DropReason.DUPLICATE, address, client)
            return
        if parsed.code == Code.STATUS_SERVER:
            self._answer(key, packets.reply(parsed, Code.ACCESS_ACCEPT), addr)
        elif parsed.code == Code.ACCOUNTING_REQUEST:
            self._answer(key, packets.reply(parsed, Code.ACCOUNTING_RESPONSE), addr)
        else:
            task = asyncio.get_running_loop().create_task(self._access(client, parsed, key, addr))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _access(
        self, client: KnownClient, request: Request, key: ReplayKey, addr: tuple[Any, int]
    ) -> None:
        try:
            answer = await exchange.handle(client, request)
        except Exception:
            log.exception("radius: request from %s failed", client.name)
            answer = exchange.Answer(Code.ACCESS_REJECT)
        self.answered[answer.code.name] += 1
        self._answer(
            key,
            packets.reply(request, answer.code, message=answer.message, state=answer.state),
            addr,
        )

    def _answer(self, key: ReplayKey, raw: bytes, addr: tuple[Any, int]) -> None:
        self.replays.answered(key, raw, self.monotonic())
        self._send(raw, addr)

    def _send(self, raw: bytes, addr: tuple[Any, int]) -> None:
        if self.transport is not None:
            self.transport.sendto(raw, addr)

    def _drop(self, reason: DropReason, address: str, client: KnownClient | None = None) -> None:
        self.drops[reason.name] += 1
        if reason == DropReason.DUPLICATE:
            return  # a NAS retransmitting while a request waits for the app: normal, not logged
        now = self.monotonic()
        last = self._dropped_at.get((address, reason.name))
        if last is not None and now - last < DROP_LOG_INTERVAL:
            return
        if len(self._dropped_at) > REPLAY_CACHE_SIZE:
            self._dropped_at.clear()  # a flood from many addresses: start afresh
        self._dropped_at[(address, reason.name)] = now
        log.warning("radius: dropped a packet from %s: %s", address, reason.value)
        task = asyncio.get_running_loop().create_task(
            exchange.in_thread(
                record,
                "radius.dropped",
                request=nonbrowser.bare_request(address),
                outcome="failure",
                reason=reason.value,
                client=client.name if client else "",
                count=self.drops[reason.name],
            )
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _maybe_reload(self) -> None:
        now = self.monotonic()
        if self.loader is None or now - self._last_reload < RELOAD_CLIENTS:
            return
        self._last_reload = now
        loader = self.loader

        async def reload() -> None:
            try:
                self.clients = await exchange.in_thread(loader)
            except Exception:
                log.exception("radius: could not reload the clients")

        task = asyncio.get_running_loop().create_task(reload())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def serve(
    address: str,
    port: int,
    *,
    accounting_port: int = 0,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve until cancelled: authentication on ``port`` and, when not 0, accounting (which
    is acknowledged and ignored) on ``accounting_port``."""
    loop = asyncio.get_running_loop()
    known = await exchange.in_thread(clients.load_all)
    transports: list[asyncio.DatagramTransport] = []
    for listen in (port, accounting_port):
        if listen == 0 and transports:
            continue
        transport, _protocol = await loop.create_datagram_endpoint(
            lambda: RadiusServer(known, loader=clients.load_all), local_addr=(address, listen)
        )
        transports.append(transport)
    bound = [t.get_extra_info("sockname") for t in transports]
    message = f"radius: listening on {bound[0][0]}:{bound[0][1]} for {len(known)} client(s)"
    if len(bound) > 1:
        message += f", accounting on {bound[1][0]}:{bound[1][1]}"
    log.info(message)
    if ready is not None:
        ready(message)
    try:
        await asyncio.Event().wait()
    finally:
        for transport in transports:
            transport.close()


__all__ = ["RadiusServer", "ReplayCache", "serve"]
