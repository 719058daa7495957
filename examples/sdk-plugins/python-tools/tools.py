#!/usr/bin/env python3
"""A perfwatch plugin in Python, standard library only.

It pretends to serve three tools. Every call it serves goes into a bounded queue; a thread sends the queue to
perfwatch once a second as one POST $PERFWATCH_URL/plugin/$PERFWATCH_PLUGIN_ID/report, authenticated with
$PERFWATCH_PLUGIN_TOKEN, together with the tool list, the active connections and a heartbeat. Reporting never
blocks serving: a full queue drops calls (and counts them), a failed send keeps them for the next one.
"""
import collections
import json
import os
import random
import signal
import sys
import threading
import time
import urllib.error
import urllib.request

TOOLS = ["search", "summarize", "translate"]
CALLS_PER_SECOND = float(os.environ.get("CALLS_PER_SECOND", "20"))
FAIL_EVERY = int(os.environ.get("FAIL_EVERY", "10"))  # one call in FAIL_EVERY fails; 0: none


class Reporter:
    def __init__(self, max_queue=10000, max_batch=1000):
        url = os.environ.get("PERFWATCH_URL", "").rstrip("/")
        plugin = os.environ.get("PERFWATCH_PLUGIN_ID", "")
        self.token = os.environ.get("PERFWATCH_PLUGIN_TOKEN", "")
        self.url = f"{url}/plugin/{plugin}/report" if url and plugin and self.token else None
        self.queue = collections.deque()
        self.max_queue = max_queue
        self.max_batch = max_batch
        self.lock = threading.Lock()
        self.gauges = {}
        self.dropped = 0
        self.untold = 0  # drops perfwatch has not been told about (dropped_calls of the next report)
        self.sent = 0

    def record(self, tool, duration_ms, ok, error=None):
        call = {"tool": tool, "duration_ms": round(duration_ms, 3), "ok": ok}
        if not ok and error:
            call["error"] = str(error)[:1024]
        with self.lock:
            if len(self.queue) >= self.max_queue:
                self.dropped += 1
                self.untold += 1
            else:
                self.queue.append(call)

    def flush(self):
        if not self.url:
            return
        with self.lock:
            calls = [self.queue.popleft() for _ in range(min(len(self.queue), self.max_batch))]
            untold = self.untold
        body = dict(self.gauges, calls=calls, heartbeat={"status": "pass", "note": f"{self.sent} calls sent"})
        if untold:
            body["dropped_calls"] = untold
        req = urllib.request.Request(
            self.url,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=5) as res:
                res.read()
            self.sent += len(calls)
            with self.lock:
                self.untold -= untold
        except urllib.error.HTTPError as e:
            # refused as it is (4xx): sending it again would not help
            with self.lock:
                self.dropped += len(calls)
                self.untold += len(calls)
            print(f"perfwatch refused a report: {e.code} {e.read()[:200]!r}", file=sys.stderr)
        except OSError as e:
            with self.lock:
                room = max(0, self.max_queue - len(self.queue))
                self.queue.extendleft(reversed(calls[:room]))
                self.dropped += max(0, len(calls) - room)
                self.untold += max(0, len(calls) - room)
            print(f"perfwatch unreachable: {e}", file=sys.stderr)


def main():
    reporter = Reporter()
    reporter.gauges = {"tools": TOOLS, "active_connections": 0}
    stop = threading.Event()

    def sender():
        while not stop.wait(1.0):
            reporter.flush()

    threading.Thread(target=sender, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"python tools plugin: {CALLS_PER_SECOND} calls/s, reporting to {reporter.url or 'nowhere'}")
    n = 0
    while not stop.is_set():
        n += 1
        tool = TOOLS[n % len(TOOLS)]
        started = time.perf_counter()
        time.sleep(random.uniform(0.001, 0.005))  # the "work"
        failed = FAIL_EVERY > 0 and n % FAIL_EVERY == 0
        reporter.record(tool, (time.perf_counter() - started) * 1000, not failed, "simulated failure" if failed else None)
        reporter.gauges["active_connections"] = n % 4
        stop.wait(max(0.0, 1.0 / CALLS_PER_SECOND - (time.perf_counter() - started)))
    reporter.flush()
    print(f"python tools plugin: stopped after {n} calls, {reporter.sent} sent, {reporter.dropped} dropped")


if __name__ == "__main__":
    main()
