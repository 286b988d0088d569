"""Tell devices that a challenge waits for them, every way at once.

The database is the source of truth and polling ``/pending`` always works; these only make it
quicker: devices with an open event stream are woken through the bus (``device:<id>``), and
devices with a Web Push subscription get a push. Neither may hold up the sign-in that made the
challenge, and neither failing changes any outcome.

Pushes are sent by a few long-lived worker threads fed by a bounded queue, not by a thread per
push; a challenge whose targets have no subscription does not touch the queue at all.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections.abc import Callable, Sequence

from django.db import close_old_connections

from vahva import bus, clock

from . import webpush

log = logging.getLogger(__name__)

#: Worker threads: pushes for different sign-ins go out side by side, so one slow push service
#: (up to twice webpush.TIMEOUT per push) does not hold up everyone else's.
WORKERS = 4
#: Pushes waiting beyond this are dropped (and logged): a burst of sign-ins cannot grow memory
#: without bound, and the app still polls.
QUEUE_LIMIT = 1000

Job = Callable[[], object]


class Worker:
    """A bounded queue of jobs and the daemon threads that run them, started on first use."""

    def __init__(self, threads: int = WORKERS, limit: int = QUEUE_LIMIT) -> None:
        self._queue: queue.Queue[Job] = queue.Queue(maxsize=limit)
        self._threads = threads
        self._started: list[threading.Thread] = []
        self._lock = threading.Lock()

    def submit(self, job: Job) -> bool:
        """Queue ``job``; False (and nothing queued) when the queue is full."""
        self._start()
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            return False
        return True

    def flush(self, timeout: float) -> bool:
        """Wait until every queued job has run; False if that took longer than ``timeout``."""
        done = self._queue.all_tasks_done
        with done:
            return done.wait_for(lambda: self._queue.unfinished_tasks == 0, timeout)

    def _start(self) -> None:
        with self._lock:
            # Threads do not survive a fork (a pre-forking server): start them again.
            self._started = [thread for thread in self._started if thread.is_alive()]
            while len(self._started) < self._threads:
                thread = threading.Thread(
                    target=self._run, name=f"vahva-webpush-{len(self._started)}", daemon=True
                )
                thread.start()
                self._started.append(thread)

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            try:
                job()
            except Exception:
                log.exception("push delivery job failed")
            finally:
                # A worker lives long; its database connection must not (CONN_MAX_AGE).
                close_old_connections()
                self._queue.task_done()


_worker = Worker()


def device_key(device_id: object) -> str:
    """The bus key an open event stream of this device waits on."""
    return f"device:{device_id}"


def dispatch(challenge_id: uuid.UUID, device_ids: Sequence[uuid.UUID]) -> None:
    """Run after the challenge is committed: wake open streams now, push in the background."""
    for device_id in device_ids:
        bus.get().publish(device_key(device_id), "challenge")
    try:
        targets = webpush.targets(device_ids)
    except Exception:
        log.exception("could not read push subscriptions for challenge %s", challenge_id)
        return
    if not targets:
        return
    if not _worker.submit(lambda: _push(challenge_id, targets)):
        log.warning("push queue full: challenge %s not pushed (the app polls)", challenge_id)


def _push(challenge_id: uuid.UUID, targets: list[webpush.Target]) -> None:
    # The clock is read when the push goes out, so the VAPID token's exp counts from then.
    webpush.deliver(challenge_id, targets, now=clock.now())


def flush(timeout: float = 30.0) -> bool:
    """Wait until every push queued so far has been sent or has failed (tests, shutdown)."""
    return _worker.flush(timeout)
