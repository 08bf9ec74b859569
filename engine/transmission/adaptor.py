"""The transmission adaptor: claims chains of network requests and executes them over HTTP.

One asyncio loop per adaptor (the OCS adaptor, later the Openet one):

- **claim** chains from the queue while there is room (``max_chains`` in hand);
- **run** chains concurrently, each strictly in order: request N+1 is sent only after N's
  answer is NC; a terminal answer (NR/NF/PE, or NA) stops the chain and releases the rest;
- **bound** the calls: ``max_in_flight`` concurrent HTTP calls and a token bucket of
  ``rate_per_second`` (0: unlimited) for the target;
- **retry** transient faults (NE) in-process with exponential backoff and full jitter, under the
  same Idempotency-Key with the same body bytes, up to ``max_retries``, then NF;
- **buffer** outcomes and flush them to the queue in batches (every ``flush_seconds`` or
  ``flush_max`` outcomes). A crash loses at most the unflushed outcomes: their leases expire,
  the requests are claimed again and re-sent with the same keys, and the network replays its
  stored answers instead of executing twice;
- **renew** the leases of everything in hand every ``lease_seconds / 3``.

:meth:`Adaptor.stop` drains: no new claims, in-flight calls finish (bounded wait), unsent
requests are released, a last flush. Cancelling :meth:`Adaptor.run` instead is an abrupt stop
(as a killed process): nothing more is written.

The queue is any :class:`~engine.transmission.model.TransmissionQueue`; its calls run on a
one-thread executor, off the event loop (DuckDB and Ray's ``get`` release the GIL).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import random
import secrets
import socket
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Callable, ParamSpec, TypeVar

from engine import telemetry
from engine.config import EndpointConfig
from engine.errors import CommandBuildError, NetworkTransientError
from engine.transmission.answers import Verdict, interpret, transport_failure
from engine.transmission.builtins import builtin_commands
from engine.transmission.commands import CommandRegistry
from engine.transmission.inhand import InHand, utcnow
from engine.transmission.model import NC, NE, NF, NS, PE, UN, Chain, Outcome, RequestRow, TransmissionQueue
from engine.transmission.pacing import TokenBucket, backoff_delay
from engine.transmission.sender import HttpSender

_P = ParamSpec("_P")
_T = TypeVar("_T")
log = logging.getLogger("engine.transmission")


def default_worker_name(target: str) -> str:
    """Unique per adaptor instance: a restarted adaptor is a new worker (its predecessor's
    leases expire and come back to work; nothing it reports late can overwrite them)."""
    return f"{target.lower()}@{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Adaptor:
    def __init__(self, queue: TransmissionQueue, endpoint: EndpointConfig, *, target: str = "OCS",
                 worker: str | None = None, commands: CommandRegistry | None = None,
                 sender: HttpSender | None = None, poll_seconds: float = 0.5, flush_seconds: float = 1.0,
                 flush_max: int = 5000, max_chains: int | None = None, traceparent: str | None = None,
                 drain_seconds: float | None = None, rng: random.Random | None = None) -> None:
        self.queue = queue
        self.endpoint = endpoint
        self.target = target
        self.worker = worker or default_worker_name(target)
        self.commands = builtin_commands() if commands is None else commands  # what this adaptor can send
        self.traceparent = traceparent
        self.poll_seconds = poll_seconds
        self.flush_seconds = flush_seconds
        self.flush_max = flush_max
        self.max_in_flight = max(1, endpoint.max_in_flight)
        # Chains in hand: 16 per call in flight, claimed half at a time; outcomes flushed every
        # second. A queue call's cost is mostly fixed (planning, scans of small tables, commit,
        # waking DuckDB's threads), so big batches are what makes the bookkeeping cheap. Measured
        # in one process, 64 calls in flight, 10,000 connections: ~780 µs of CPU a command in all
        # with claims of ~400 requests and flushes of ~500, ~410-530 µs with claims of 3,000-6,000
        # and a flush every 1-2 s (the bare aiohttp client alone: ~340 µs; with http1 on uvloop
        # now ~150 µs, and the whole in-process path ~280-310 µs: README, bench/transmit.py).
        self.max_chains = max_chains or 16 * self.max_in_flight
        self._refill_at = max(1, self.max_chains // 2)  # claim when this many chains have room
        self.drain_seconds = drain_seconds if drain_seconds is not None else endpoint.timeout_seconds + 5.0
        self._own_sender = sender is None
        self._sender = sender or HttpSender(endpoint.url, endpoint.token.reveal(),
                                            timeout_seconds=endpoint.timeout_seconds,
                                            max_connections=self.max_in_flight)
        self._rng = rng or random.Random()
        self.stats: Counter[str] = Counter()
        self._chains: set[asyncio.Task] = set()
        self._stopping = False
        self._executor: ThreadPoolExecutor | None = None
        self._hand: InHand | None = None
        self._stop_event: asyncio.Event | None = None
        self._wake: asyncio.Event | None = None
        self._slots: asyncio.Semaphore | None = None
        self._bucket: TokenBucket | None = None
        self._finished: asyncio.Event | None = None

    # ------------------------------------------------------------------ lifecycle
    async def run(self, *, until_idle: bool = False) -> dict[str, int]:
        """Run until :meth:`stop` (or, with ``until_idle``, until nothing is left to claim now).
        Returns the counters. Cancelling it is an abrupt stop: nothing is flushed or released."""
        self._stop_event, self._wake, self._finished = asyncio.Event(), asyncio.Event(), asyncio.Event()
        self._slots = asyncio.Semaphore(self.max_in_flight)
        self._bucket = TokenBucket(self.endpoint.rate_per_second)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"tx-queue-{self.target}")
        self._hand = InHand(self.queue, self._call, self.worker, lease_seconds=self.endpoint.lease_seconds,
                            flush_seconds=self.flush_seconds, flush_max=self.flush_max, stats=self.stats)
        helpers = [asyncio.create_task(self._hand.flush_loop(), name="tx-flush"),
                   asyncio.create_task(self._hand.renew_loop(), name="tx-renew")]
        graceful = False
        try:
            await self._claim_loop(until_idle)
            await self._drain()
            graceful = True
        finally:
            if not graceful:  # cancelled (or crashed): drop everything in hand, write nothing
                for task in self._chains:
                    task.cancel()
                await asyncio.gather(*self._chains, return_exceptions=True)
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            if self._own_sender:
                await self._sender.close()
            # A queue call under way (at most one) is let finish: once run() returns, nothing
            # of this adaptor writes any more.
            self._executor.shutdown(wait=True)
            self._finished.set()
        return dict(self.stats)

    async def stop(self) -> None:
        """Drain: claim nothing more, let calls in flight finish (at most ``drain_seconds``),
        release what was not sent, flush the last outcomes. Returns when :meth:`run` is done."""
        self.request_stop()
        if self._finished is not None:
            await self._finished.wait()

    def request_stop(self) -> None:
        """Start the drain without waiting for it; :meth:`run` returns when it is done.

        For a loop run by ``run_until_complete(run())`` on another thread (the Ray actor): the
        loop stops the moment ``run()`` returns, so a :meth:`stop` coroutine sent to it would
        never resume; call this with ``loop.call_soon_threadsafe`` and join the thread instead.
        """
        self._stopping = True
        if self._stop_event is not None:
            self._stop_event.set()
            self._wake.set()  # type: ignore[union-attr]

    @property
    def in_hand(self) -> int:
        """Requests claimed and not yet recorded or released."""
        return len(self._hand.held) if self._hand else 0

    # ------------------------------------------------------------------ queue calls
    async def _call(self, fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        """``fn(*args, **kwargs)`` (a queue method) on the queue's executor thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    async def _claim_loop(self, until_idle: bool) -> None:
        assert self._wake is not None
        idle_checks = 0
        while not self._stopping:
            self._wake.clear()  # before looking: a chain ending from here on wakes the wait below
            room = self.max_chains - len(self._chains)
            if room < self._refill_at and self._chains:
                await self._wait(self._wake, self.poll_seconds)
                continue
            try:
                chains = await self._call(self.queue.claim_requests, target=self.target, worker=self.worker,
                                          max_chains=room, lease_seconds=self.endpoint.lease_seconds, now=utcnow())
            except Exception as exc:  # a busy or restarting store: try again after a pause
                self.stats["claim_errors"] += 1
                log.warning("%s: claim failed: %s", self.worker, exc)
                await self._wait_stop(self.poll_seconds)
                continue
            self.stats["claims"] += 1
            for chain in chains:
                self._start(chain)
            if chains:
                idle_checks = 0
                continue
            if until_idle and not self._chains:
                # Nothing claimable and nothing in hand: flush (it may unblock nothing, but
                # the outcomes are then written) and look once more before calling it idle.
                await self._hand.flush()  # type: ignore[union-attr]
                idle_checks += 1
                if idle_checks >= 2:
                    return
                continue
            await self._wait(self._wake, self.poll_seconds)

    def _start(self, chain: Chain) -> None:
        self._hand.hold(chain.request_ids)  # type: ignore[union-attr]
        self.stats["chains"] += 1
        self.stats["requests"] += len(chain.requests)
        task = asyncio.create_task(self._traced_chain(chain))
        self._chains.add(task)
        task.add_done_callback(self._chain_done)

    def _chain_done(self, task: asyncio.Task) -> None:
        self._chains.discard(task)
        if len(self._chains) <= self.max_chains - self._refill_at:  # room for a claim: wake the loop
            self._wake.set()  # type: ignore[union-attr]
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: a chain failed unexpectedly", self.worker, exc_info=task.exception())

    @staticmethod
    async def _wait(event: asyncio.Event, timeout: float) -> bool:
        """Wait for ``event`` or ``timeout``; True if the event was set (the caller clears it).

        ``asyncio.timeout``, not ``wait_for``: on Python 3.11 ``wait_for`` loses a cancellation
        that arrives as the event is set, and a cancelled adaptor then runs on for ever."""
        try:
            async with asyncio.timeout(timeout):
                await event.wait()
            return True
        except TimeoutError:
            return False

    # ------------------------------------------------------------------ chains and requests
    async def _traced_chain(self, chain: Chain) -> None:
        """A chain under its span: a child of the job span that created the requests (else of the
        adaptor's ``traceparent``), with the count of each outcome; its HTTP calls carry it."""
        with telemetry.span(f"send {self.target} chain", parent=chain.requests[0].traceparent or self.traceparent,
                            attributes={"cmp.target": self.target, "cmp.subscription_id": chain.subscription_id,
                                        "cmp.requests": len(chain.requests)}) as span:
            counts: Counter[str] = Counter()
            try:
                await self._run_chain(chain, counts)
            finally:
                counts[UN] += len(chain.requests) - sum(counts.values())  # released unsent
                telemetry.set_attributes(span, {f"cmp.outcome.{k}": v for k, v in counts.items() if v})

    async def _run_chain(self, chain: Chain, counts: Counter[str] | None = None) -> None:
        requests = chain.requests
        pending = 0  # index of the first request without an outcome yet
        try:
            for i, req in enumerate(requests):
                if self._stopping:
                    self._release(requests[i:], "released on stop")
                    return
                outcome = await self._execute(req)
                self._hand.add(outcome)  # type: ignore[union-attr]
                if counts is not None:
                    counts[outcome.status] += 1
                pending = i + 1
                if outcome.status != NC:
                    why = "released on stop" if outcome.status == UN else \
                        f"released: request {req.request_id} ended {outcome.status}"
                    self._release(requests[i + 1:], why)
                    return
        except Exception as exc:  # a bug, not a network answer: give the rest back, keep going
            log.exception("%s: chain of %s failed", self.worker, chain.subscription_id)
            self._release(requests[pending:], f"released after an adaptor error: {exc!r}"[:500])

    def _release(self, requests: tuple[RequestRow, ...], note: str) -> None:
        now = utcnow()
        for req in requests:
            self._hand.add(Outcome(req.request_id, self.worker, UN, [(UN, now, note)],  # type: ignore[union-attr]
                                   attempts=req.attempts, history_seq=req.history_seq))

    async def _execute(self, req: RequestRow) -> Outcome:
        try:
            call = self.commands.build(self.target, req)
        except CommandBuildError as exc:
            now = utcnow()
            return Outcome(req.request_id, self.worker, PE, [(PE, now, str(exc))], error_code="BUILD_ERROR",
                           error_text=str(exc), attempts=req.attempts, history_seq=req.history_seq)
        budget = max(1, 1 + self.endpoint.max_retries - req.attempts)
        attempts, tries, sent_at = req.attempts, 0, None
        steps: list = []
        while True:
            await self._bucket.acquire()  # type: ignore[union-attr]
            async with self._slots:  # type: ignore[union-attr]
                if self._stopping:  # stopped while waiting for a slot or a token: not sent
                    steps.append((UN, utcnow(), f"released on stop after {attempts} attempts" if tries
                                  else "released on stop"))
                    return Outcome(req.request_id, self.worker, UN, steps, sent_at=sent_at, attempts=attempts,
                                   history_seq=req.history_seq)
                at = utcnow()
                sent_at = sent_at or at
                steps.append((NS, at, None))
                attempts += 1
                tries += 1
                self.stats["http_calls"] += 1
                try:
                    reply = await self._sender.send(call, req.key,
                                                    telemetry.inject() or req.traceparent or self.traceparent)
                    verdict = interpret(self.commands, self.target, req.command, reply.status, reply.body)
                except NetworkTransientError as exc:
                    verdict = transport_failure(exc)
                except Exception as exc:  # cannot send at all (bad URL, …): the platform's fault
                    verdict = Verdict(PE, error_code="SEND_ERROR", error_text=f"{type(exc).__name__}: {exc}")
            if not verdict.transient:
                return self._final(req, verdict, steps, sent_at, attempts)
            steps.append((NE, utcnow(), verdict.note()))
            if tries >= budget:
                text = f"gave up after {attempts} attempts; last: {verdict.error_text}"
                steps.append((NF, utcnow(), text))
                self.stats[NF] += 1
                return Outcome(req.request_id, self.worker, NF, steps, sent_at=sent_at, error_code=verdict.error_code,
                               error_text=text, attempts=attempts, history_seq=req.history_seq)
            self.stats["retries"] += 1
            delay = backoff_delay(tries - 1, self.endpoint.backoff_base_seconds, self.endpoint.backoff_max_seconds,
                                  self._rng)
            if self._stopping or await self._wait_stop(delay):
                steps.append((UN, utcnow(), f"released on stop after {attempts} attempts"))
                return Outcome(req.request_id, self.worker, UN, steps, sent_at=sent_at, attempts=attempts,
                               history_seq=req.history_seq)

    def _final(self, req: RequestRow, verdict: Verdict, steps: list, sent_at: datetime,
               attempts: int) -> Outcome:
        now = utcnow()
        steps.append((verdict.status, now, verdict.note()))
        self.stats[verdict.status] += 1
        return Outcome(req.request_id, self.worker, verdict.status, steps, sent_at=sent_at,
                       completed_at=now if verdict.status == NC else None, response=verdict.response,
                       error_code=verdict.error_code, error_text=verdict.error_text,
                       external_ref=verdict.external_ref, attempts=attempts, history_seq=req.history_seq)

    async def _wait_stop(self, delay: float) -> bool:
        stop = self._stop_event
        assert stop is not None
        if stop.is_set():
            return True
        return await self._wait(stop, delay)

    async def _drain(self) -> None:
        """The graceful end: chains finish or are cut off, last flush, release the rest."""
        self._stopping = True
        self._stop_event.set()  # type: ignore[union-attr]
        if self._chains:
            _, late = await asyncio.wait(set(self._chains), timeout=self.drain_seconds)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self._hand.finish()  # type: ignore[union-attr]


__all__ = ["Adaptor", "default_worker_name", "utcnow"]
