#!/usr/bin/python3
"""exchange-powershell-winrm benchmark (not a test): Mailbox.Load and
MailboxDatabase.List through svcbrokerd against the mock WinRM server
(tests/mock/winrm_server.py with its Exchange emulator), side by side in
one run with pywinrm (python3-winrm) running the very same script by
Session.run_ps against the same mock.

  svcbroker: POST /v1/call/bench/<Object>/<Method>, one kept HTTP
             connection to the daemon, calls one after the other; the
             broker reuses its pooled WinRS shells.
  pywinrm:   Session.run_ps(script) with the script the broker sent
             (read back from the mock's stats): a new shell per call
             (Create, Command, Receive, Signal, Delete), as run_ps does.

    bench.py --build BUILD_DIR [--calls N] [--markdown F]
"""
import argparse
import http.client
import json
import os
import platform
import subprocess
import sys
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, os.path.join(TOP, "tests", "mock"))

USER, PW = "EXAMPLE\\administrator", "Secret-Pw-1"
OPS = [("Mailbox", "Load", {"Identity": "Alice Example"}),
       ("MailboxDatabase", "List", {})]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--calls", type=int, default=100)
    ap.add_argument("--markdown")
    opts = ap.parse_args()
    os.environ["top_builddir"] = os.path.abspath(opts.build)
    os.environ.setdefault("top_srcdir", TOP)
    import sbtest
    import winrm
    from winrm_server import MockWinRM

    results = []
    with MockWinRM(["--auth", "basic", "--lifetime", "900"]) as w:
        body = ("[module exchange-powershell-winrm]\nenabled = yes\n"
                "[instance bench]\nbroker = exchange-powershell-winrm\n"
                "url = %s\nauth = basic\nusername = %s\npassword = %s\n"
                "allow_unencrypted = yes\nmax_shells = 2\ntimeout = 120s\n"
                % (w.url, USER, PW))
        with sbtest.Daemon(body) as d:
            conn = http.client.HTTPConnection("127.0.0.1", d.port,
                                              timeout=120)

            def daemon_call(obj, meth, inputs):
                conn.request("POST", "/v1/call/bench/%s/%s" % (obj, meth),
                             json.dumps({"inputs": inputs}),
                             {"Content-Type": "application/json"})
                r = conn.getresponse()
                data = r.read()
                if r.status != 200:
                    raise RuntimeError("%s.%s: %d %s" % (obj, meth, r.status,
                                                        data[:300]))
                return json.loads(data)

            session = winrm.Session(w.url, auth=(USER, PW),
                                    transport="basic")
            for obj, meth, inputs in OPS:
                daemon_call(obj, meth, inputs)  # warm: shell and snap-in
                script = w.stats()["scripts"][-1]
                r = session.run_ps(script)
                if r.status_code != 0 or b"##SB-END" not in r.std_out:
                    raise RuntimeError("pywinrm run_ps failed: %r %r"
                                       % (r.std_out[:300], r.std_err[:300]))
                created0 = w.stats()["shells_created"]
                t0 = time.perf_counter()
                for _ in range(opts.calls):
                    daemon_call(obj, meth, inputs)
                t_d = time.perf_counter() - t0
                created_d = w.stats()["shells_created"] - created0
                t0 = time.perf_counter()
                for _ in range(opts.calls):
                    r = session.run_ps(script)
                    if r.status_code != 0:
                        raise RuntimeError("pywinrm: exit %d"
                                           % r.status_code)
                t_p = time.perf_counter() - t0
                results.append({
                    "op": "%s.%s" % (obj, meth),
                    "svcbroker": opts.calls / t_d,
                    "pywinrm": opts.calls / t_p,
                    "shells_svcbroker": created_d,
                })
            conn.close()
            st = w.stats()
    head = subprocess.run(["git", "-C", TOP, "rev-parse", "--short",
                           "HEAD"], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL).stdout.decode().strip()
    load = os.getloadavg()[0]
    lines = ["<!-- bench/winrm figures: begin -->",
             "Measured %s at `%s` with `bench/winrm/run.sh` on %d CPUs, "
             "Python %s, pywinrm %s; one run of %d calls per sender and "
             "operation, one after the other; 1-minute load average at the "
             "start: %.1f." % (time.strftime("%Y-%m-%d"), head or "?",
                               os.cpu_count(), platform.python_version(),
                               getattr(winrm, "__version__", "0.3.0"),
                               opts.calls, load),
             "",
             "| operation | svcbroker calls/s | pywinrm run_ps calls/s | "
             "ratio | shells the broker created |",
             "|---|---:|---:|---:|---:|"]
    for r in results:
        lines.append("| %s | %.1f | %.1f | **%.1f×** | %d |" % (
            r["op"], r["svcbroker"], r["pywinrm"],
            r["svcbroker"] / r["pywinrm"], r["shells_svcbroker"]))
    lines.append("")
    lines.append("The mock saw at most %d shells open at once (the "
                 "broker's max_shells = 2, pywinrm one at a time)."
                 % st.get("max_shells_open", -1))
    lines.append("<!-- bench/winrm figures: end -->")
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if opts.markdown:
        with open(opts.markdown, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
