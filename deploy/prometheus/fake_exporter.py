#!/usr/bin/python3
"""Serves every metric of deploy/prometheus/METRICS.md with moving made-up values, as three fake
processes (learner, actor, reward), and lists them in RUN_DIR/prometheus_targets.json the way
`pelican run` does. For trying the dashboards and alerts without running pelican, and for the
tests that query every dashboard expression. Python standard library only.

    deploy/prometheus/fake_exporter.py RUN_DIR [--run NAME]
    deploy/local/monitor.sh RUN_DIR          # in another terminal

Stops on Ctrl-C or SIGTERM and removes the target list it wrote.
"""
import http.server
import itertools
import json
import math
import os
import re
import signal
import sys
import threading
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
LATENCY = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
BUCKETS = {
    "pelican_reward_batch_size": [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
    "pelican_learner_policy_lag": [0, 1, 2, 4, 8],
}
# Gauges with values that mean something: keep them plausible (and the guard untripped).
FIXED = {"pelican_build_info": 1, "pelican_learner_actors_connected": 2,
         "pelican_learner_guard_tripped": 0}


def read_metrics(path):
    """[(name, type, [(label, [values])])] from the tables of METRICS.md."""
    out = []
    row = re.compile(r"^\|\s*`(pelican_\w+)`\s*\|\s*(counter|gauge|histogram)\s*\|([^|]*)\|")
    for line in open(path, encoding="utf-8"):
        m = row.match(line)
        if m:
            labels = [(k, [v for v in vals.split("/") if v and v != "…"])
                      for k, vals in re.findall(r"`(\w+)=([^`]*)`", m.group(3))]
            out.append((m.group(1), m.group(2), labels))
    if not out:
        sys.exit(f"no metrics found in {path}")
    return out


def exposition(metrics, role, run_start):
    t = time.time() - run_start
    lines = []
    for name, kind, labels in metrics:
        if not (name.startswith(f"pelican_{role}_") or name == "pelican_build_info"):
            continue
        lines.append(f"# TYPE {name} {kind}")
        names = [k for k, _ in labels]
        for values in itertools.product(*[v for _, v in labels]) if labels else [()]:
            lv = dict(zip(names, values))
            if name == "pelican_build_info":
                if lv.get("role") != role:
                    continue
                lv = {"role": role, "version": labels[1][1][0], "git_sha": labels[2][1][0]}
            seed = zlib.crc32(f"{name}{sorted(lv.items())}".encode()) % 1000 / 1000
            text = ",".join(f'{k}="{v}"' for k, v in lv.items())
            sel = "{" + text + "}" if text else ""
            if kind == "counter":
                lines.append(f"{name}{sel} {(1 + 9 * seed) * t:.3f}")
            elif kind == "gauge":
                value = FIXED.get(name, 0.5 + 0.4 * math.sin(t / 60 + 6.28 * seed))
                lines.append(f"{name}{sel} {value:.6g}")
            else:
                bounds = BUCKETS.get(name, LATENCY)
                count = (1 + 9 * seed) * t
                for i, b in enumerate(bounds):  # most observations in the middle buckets
                    frac = 1 / (1 + math.exp(-(i - len(bounds) / 2)))
                    le = "{" + (text + "," if text else "") + f'le="{b}"' + "}"
                    lines.append(f"{name}_bucket{le} {count * frac:.3f}")
                le = "{" + (text + "," if text else "") + 'le="+Inf"}'
                lines.append(f"{name}_bucket{le} {count:.3f}")
                lines.append(f"{name}_sum{sel} {count * bounds[len(bounds) // 2]:.3f}")
                lines.append(f"{name}_count{sel} {count:.3f}")
    return "\n".join(lines) + "\n"


def serve(metrics, role, start):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path != "/metrics":
                self.send_error(404)
                return
            body = exposition(metrics, role, start).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main(argv):
    args, run, metrics_md = [], "fake", os.path.join(HERE, "METRICS.md")
    it = iter(argv[1:])
    for a in it:
        if a == "--run":
            run = next(it, run)
        elif a == "--metrics":
            metrics_md = next(it, metrics_md)
        elif a in ("-h", "--help"):
            print(__doc__)
            return 0
        else:
            args.append(a)
    if len(args) != 1:
        sys.stderr.write(__doc__)
        return 2
    run_dir = args[0]
    os.makedirs(run_dir, exist_ok=True)
    metrics = read_metrics(metrics_md)
    start = time.time()
    targets = []
    for role in ("learner", "actor", "reward"):
        server = serve(metrics, role, start)
        targets.append({"targets": [f"127.0.0.1:{server.server_address[1]}"],
                        "labels": {"role": role, "run": run}})
    path = os.path.join(run_dir, "prometheus_targets.json")
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(targets, f, indent=2)
    os.replace(path + ".tmp", path)  # file_sd must never read a half-written file
    print(f"fake_exporter: {len(metrics)} metrics, targets in {path}", flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    os.remove(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
