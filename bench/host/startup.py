"""Start-up time of svcbrokerd: from exec until GET /v1/health answers 200.

    startup.py RUNS DAEMON CONFIG PORT

Prints one line per run (milliseconds) and, last, "min median max".  Each
run is bounded (20 s) and the daemon is stopped with SIGTERM after it."""
import http.client
import signal
import subprocess
import sys
import time

runs, daemon, config, port = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
times = []
for _ in range(runs):
    t0 = time.monotonic()
    p = subprocess.Popen([daemon, "-c", config], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    ms = None
    while time.monotonic() - t0 < 20:
        if p.poll() is not None:
            break
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/v1/health")
            if c.getresponse().status == 200:
                ms = (time.monotonic() - t0) * 1000
                c.close()
                break
            c.close()
        except OSError:
            pass
        time.sleep(0.001)
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    if ms is None:
        print("startup.py: the daemon did not answer in 20 s", file=sys.stderr)
        sys.exit(1)
    times.append(ms)
    print("%.1f" % ms)
times.sort()
print("%.1f %.1f %.1f" % (times[0], times[len(times) // 2], times[-1]))
