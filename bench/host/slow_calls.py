#!/usr/bin/python3
"""Slow calls benchmark of svcbrokerd (not a test): CALLS concurrent calls
that each take SLEEP_MS (testmod Echo.Sleep) must all run at once, with
little resident memory each, while catalog reads stay fast.

    bench/host/slow_calls.py [BUILD_DIR]      (default: build/)

The daemon runs from the build tree with workers = WORKERS and the default
worker_stack, four testmod instances sharing the slow calls (max_concurrency
is at most 1024 per instance) and one more for nothing but the catalog.
The slow instances have `stuck = yes`: each Sleep blocks in one nanosleep,
as a broker blocked reading its upstream's socket does, instead of polling
for cancellation every 10 ms (2000 threads polling are 200,000 wake-ups a
second, which on 2 CPUs would measure testmod, not the host).
Measured:
  - resident memory (VmRSS) of the daemon idle, and when every slow call
    is running (calls_running from /v1/health), per call;
  - how long the whole batch took (all at once: about SLEEP_MS);
  - GET /v1/catalog latency while the calls run, with wrk (p50, p99).
Environment: CALLS (default 2000), SLEEP_MS (default 15000), WORKERS
(default 2048), WRITE=0 to print without updating docs/performance.md
(only its "## Slow calls" section is rewritten).  Needs wrk and python3.
"""
import asyncio
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BDIR = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                       os.path.join(TOP, "build"))
CALLS = int(os.environ.get("CALLS", "2000"))
SLEEP_MS = int(os.environ.get("SLEEP_MS", "15000"))
WORKERS = int(os.environ.get("WORKERS", "2048"))
WRITE = os.environ.get("WRITE", "1") == "1"
SLOW_INSTANCES = 4


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def get_json(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                                timeout=5) as r:
        return json.loads(r.read())


async def one_call(port, inst, results):
    t0 = time.monotonic()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        body = json.dumps({"inputs": {"Ms": SLEEP_MS}}).encode()
        writer.write(b"POST /v1/call/%s/Echo/Sleep HTTP/1.1\r\n"
                     b"Host: bench\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
                     % (inst.encode(), len(body), body))
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(),
                                        SLEEP_MS / 1000 + 60)
        await reader.read()
        writer.close()
        code = int(status.split()[1]) if status else 0
    except (OSError, asyncio.TimeoutError, ValueError, IndexError) as e:
        code = repr(e)
    results.append((code, time.monotonic() - t0))


async def flood(port, results):
    tasks = [one_call(port, "slow%d" % (i % SLOW_INSTANCES), results)
             for i in range(CALLS)]
    await asyncio.gather(*tasks)


def wrk_catalog(port, seconds):
    out = subprocess.run(
        ["wrk", "-t1", "-c4", "-d%ds" % seconds, "--timeout", "5s",
         "--latency", "http://127.0.0.1:%d/v1/catalog" % port],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=seconds + 30
    ).stdout.decode()

    def ms(v):
        m = re.match(r"([\d.]+)(us|ms|s)$", v)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]

    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    rps = re.search(r"Requests/sec:\s+(\S+)", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"p50": ms(p50.group(1)) if p50 else float("nan"),
            "p99": ms(p99.group(1)) if p99 else float("nan"),
            "rps": float(rps.group(1)) if rps else 0.0,
            "non2xx": int(bad.group(1)) if bad else 0, "raw": out}


def paced_catalog(port, seconds, rate=100):
    """GET /v1/catalog `rate` times a second over one kept-alive
    connection for `seconds`: latencies in ms (a paced reader, as a client
    of the catalog is; wrk measures throughput instead)."""
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    lat, bad = [], 0
    t_end = time.monotonic() + seconds
    nxt = time.monotonic()
    while time.monotonic() < t_end:
        t0 = time.monotonic()
        try:
            c.request("GET", "/v1/catalog")
            r = c.getresponse()
            r.read()
            if r.status != 200:
                bad += 1
        except (OSError, http.client.HTTPException):
            bad += 1
            c.close()
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        lat.append((time.monotonic() - t0) * 1000)
        nxt += 1.0 / rate
        pause = nxt - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    c.close()
    lat.sort()

    def pct(q):
        return lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")

    return {"p50": pct(0.50), "p99": pct(0.99), "max": lat[-1] if lat else
            float("nan"), "n": len(lat), "bad": bad}


def main():
    if not shutil.which("wrk"):
        sys.exit("slow_calls.py: wrk not found (scripts/deps.sh --bench)")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 65536)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < CALLS + 200:
        sys.exit("slow_calls.py: the open-file limit is below %d" % (CALLS + 200))
    subprocess.run(["make", "-C", BDIR, "-j%d" % os.cpu_count()],
                   stdout=subprocess.DEVNULL, check=True)
    subprocess.run(["make", "-C", BDIR, "test-modules"],
                   stdout=subprocess.DEVNULL, check=True)
    with open("/proc/loadavg") as f:
        load_before = " ".join(f.read().split()[:3])
    tmp = tempfile.mkdtemp(prefix="sb-slow.")
    mods = os.path.join(tmp, "modules")
    os.makedirs(mods)
    os.symlink(os.path.join(BDIR, "tests", "modules", ".libs", "testmod.so"),
               os.path.join(mods, "testmod.so"))
    port = free_port()
    per = -(-CALLS // SLOW_INSTANCES)
    conf = ["[server]", "listen = 127.0.0.1:%d" % port,
            "module_dir = %s" % mods, "workers = %d" % WORKERS,
            "log_level = warn", "", "[module testmod]", "enabled = yes", "",
            "[instance t1]", "broker = testmod", "label = catalog", ""]
    for i in range(SLOW_INSTANCES):
        conf += ["[instance slow%d]" % i, "broker = testmod",
                 "label = slow%d" % i, "max_concurrency = %d" % per,
                 "stuck = yes",
                 "timeout = %ds" % (SLEEP_MS // 1000 + 30), ""]
    ini = os.path.join(tmp, "svcbroker.ini")
    with open(ini, "w") as f:
        f.write("\n".join(conf))
    daemon = os.path.join(BDIR, "core", "svcbrokerd", "svcbrokerd")
    log = open(os.path.join(tmp, "daemon.log"), "wb")
    p = subprocess.Popen([daemon, "-c", ini], stdout=log,
                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                get_json(port, "/v1/health")
                break
            except OSError:
                if time.monotonic() > deadline or p.poll() is not None:
                    sys.exit("slow_calls.py: svcbrokerd did not start:\n" +
                             open(os.path.join(tmp, "daemon.log")).read())
                time.sleep(0.1)
        time.sleep(1)
        rss_idle = proc_status(p.pid, "VmRSS")
        threads = proc_status(p.pid, "Threads")
        base = paced_catalog(port, 5)
        base_wrk = wrk_catalog(port, 5)

        results = []
        loop = asyncio.new_event_loop()
        t0 = time.monotonic()
        fut = loop.run_in_executor(None, lambda: asyncio.run(
            flood(port, results)))
        # wait until every call runs at once
        peak, running_at = 0, None
        while time.monotonic() - t0 < SLEEP_MS / 1000:
            h = get_json(port, "/v1/health")
            peak = max(peak, h.get("calls_running", 0))
            if h.get("calls_running", 0) >= CALLS:
                running_at = time.monotonic() - t0
                break
            time.sleep(0.05)
        rss_busy = proc_status(p.pid, "VmRSS")
        busy_h = get_json(port, "/v1/health")
        left = SLEEP_MS / 1000 - (time.monotonic() - t0) - 2
        loaded = paced_catalog(port, max(1, left / 2))
        h2 = get_json(port, "/v1/health")
        left = SLEEP_MS / 1000 - (time.monotonic() - t0) - 1
        loaded_wrk = wrk_catalog(port, max(1, int(left)))
        still = h2.get("calls_running", 0)
        loop.run_until_complete(fut)
        elapsed = time.monotonic() - t0
        rss_end = proc_status(p.pid, "VmRSS")
        hwm = proc_status(p.pid, "VmHWM")
        ok = sum(1 for r in results if r[0] == 200)
    finally:
        p.terminate()
        try:
            p.wait(timeout=40)
        except subprocess.TimeoutExpired:
            p.kill()
        log.close()
    shutil.rmtree(tmp, ignore_errors=True)

    per_call = (rss_busy - rss_idle) / CALLS
    whole = rss_busy / CALLS
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = 0
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // 1048576
    lines = [
        "## Slow calls",
        "",
        "Measured %s with `bench/host/slow_calls.py` on %d CPUs (%s), %d GiB "
        "RAM, on loopback: %d calls of testmod `Echo.Sleep` (%d ms each) sent "
        "at once over %d connections, spread over %d instances (`stuck = "
        "yes`: each call blocks in one nanosleep, as a broker blocked on its "
        "upstream's socket does), with "
        "`workers = %d` and the default `worker_stack` (256 KiB) and "
        "`max_connections` (4096). Meanwhile a client reads `GET /v1/catalog` "
        "100 times a second over one kept-alive connection (its latency is "
        "the figure that counts), then wrk reads it as fast as it can over 4 "
        "connections (throughput, with every CPU busy)."
        % (time.strftime("%Y-%m-%d", time.gmtime()), os.cpu_count(), cpu,
           mem, CALLS, SLEEP_MS, CALLS, SLOW_INSTANCES, WORKERS),
        "",
        "| | |",
        "|---|---|",
        "| calls running at once (peak of `calls_running`) | %d of %d%s |"
        % (max(peak, busy_h.get("calls_running", 0)), CALLS,
           " (all after %.1f s)" % running_at if running_at else ""),
        "| calls answered 200 | %d of %d |" % (ok, CALLS),
        "| whole batch, first sent to last answered | %.1f s (each call "
        "%.1f s) |" % (elapsed, SLEEP_MS / 1000),
        "| daemon threads | %d |" % threads,
        "| resident memory idle (VmRSS, %d workers started) | %.1f MiB |"
        % (WORKERS, rss_idle / 1024),
        "| resident memory with every call running | %.1f MiB |"
        % (rss_busy / 1024),
        "| per running call, above idle | **%.1f KiB** |" % per_call,
        "| per running call, the whole process | %.1f KiB |" % whole,
        "| peak (VmHWM) / after the batch (VmRSS) | %.1f MiB / %.1f MiB |"
        % (hwm / 1024, rss_end / 1024),
        "| `GET /v1/catalog` at 100/s, idle: p50 / p99 / max | %.2f / %.2f / "
        "%.2f ms |" % (base["p50"], base["p99"], base["max"]),
        "| `GET /v1/catalog` at 100/s while the calls run: p50 / p99 / max | "
        "**%.2f / %.2f** / %.2f ms (%d reads, %d failed; %d calls still "
        "running after them) |"
        % (loaded["p50"], loaded["p99"], loaded["max"], loaded["n"],
           loaded["bad"], still),
        "| wrk, 4 connections, idle: req/s, p50 / p99 | %.0f, %.2f / %.2f ms |"
        % (base_wrk["rps"], base_wrk["p50"], base_wrk["p99"]),
        "| wrk, 4 connections, while the calls run: req/s, p50 / p99 | %.0f, "
        "%.2f / %.2f ms (%d non-2xx) |"
        % (loaded_wrk["rps"], loaded_wrk["p50"], loaded_wrk["p99"],
           loaded_wrk["non2xx"]),
        "",
        "A waiting call costs a connection and a suspended request; a running "
        "one also a worker thread, whose stack pages are touched only as deep "
        "as the broker goes (the 256 KiB are address space, not resident "
        "memory). After the batch the process keeps the memory the answers "
        "used (connections, JSON, results) instead of returning it to the "
        "system; repeated batches of 2000 still grow it slowly (86, 110, 130, "
        "139, 144, 152, 154, 165 MiB after each of eight 3-second batches), "
        "while 500,000 no-op calls on 16 workers grow it by under 3 MiB and "
        "valgrind finds no leak in the test suite: most likely glibc's "
        "malloc arenas under thousands of threads, not yet proven; worth "
        "watching.",
        "",
        "Load average before the run: %s (other people's builds and fuzzers "
        "share the 2 CPUs; the p99 figures move by milliseconds with them)."
        % load_before,
        "",
        "Reproduce: `scripts/build.sh build && bench/host/slow_calls.py build` "
        "(`CALLS`, `SLEEP_MS`, `WORKERS` adjust the run).",
    ]
    section = "\n".join(lines) + "\n"
    print(section)
    if WRITE:
        path = os.path.join(TOP, "docs", "performance.md")
        text = open(path).read()
        m = re.search(r"^## Slow calls\n.*?(?=^## |\Z)", text, re.S | re.M)
        if m:
            text = (text[:m.start()] + section +
                    ("\n" if m.end() < len(text) else "") + text[m.end():])
        else:
            text = text.rstrip("\n") + "\n\n" + section
        with open(path, "w") as f:
            f.write(text)
        print("slow_calls.py: wrote the Slow calls section of %s" % path,
              file=sys.stderr)
    if ok < CALLS or per_call > 64 or not loaded["p99"] < 5 or loaded["bad"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
