"""``/metrics`` in the Prometheus text format, for the people who run vahva.

Two kinds of figures, each read where it is right across worker processes and nodes:

- **what happened** (sign-ins by method and outcome, texts and calls sent and refused,
  validation API checks, the push latency histogram) is counted in the process where it
  happened, as it happens: :mod:`.counters`, fed by the audit log. With several worker
  processes, prometheus_client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``) adds the
  workers' counts up at scrape time; each node is scraped on its own and Prometheus sums the
  nodes, as it does for any counter.
- **what is the case now** (pushes waiting for an answer, texts and calls in the last day
  against the daily cap) is read from the database when scraped: :mod:`.state`. The database
  is the one source of truth for it, so every node and worker reports the same value
  (aggregate these with ``max``, not ``sum``).

Counting the events from the database at scrape time instead would need no shared directory,
but each scrape would scan the audit log, which grows without bound, and a histogram of
latencies cannot be rebuilt from rows that do not record them.
"""

from __future__ import annotations

from .counters import observe_push_told

__all__ = ["observe_push_told"]
