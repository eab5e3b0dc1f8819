#!/usr/bin/env bash
# The metric contract (deploy/prometheus/METRICS.md) against what the dashboards and alert rules
# query: every metric they name is in the table, with the right kind (rate() only of counters and
# histogram series, _bucket only of histograms), every label they match on is one the metric has
# (or a target label: run, role, job, instance) with a value from its closed list, and every metric
# in the table is shown on some dashboard. Usage: deploy_metrics_contract.sh [SRC]
set -u
src=${1:-$(cd "$(dirname "$0")/.." && pwd)}
exec /usr/bin/python3 - "$src" <<'EOF'
import json, re, subprocess, sys

src = sys.argv[1]
md = f"{src}/deploy/prometheus/METRICS.md"
row = re.compile(r"^\|\s*`(pelican_\w+)`\s*\|\s*(counter|gauge|histogram)\s*\|([^|]*)\|")
metrics = {}
problems = []
for line in open(md, encoding="utf-8"):
    m = row.match(line)
    if not m:
        continue
    name, kind = m.group(1), m.group(2)
    if name in metrics:
        problems.append(f"METRICS.md lists {name} twice")
    labels = {k: [v for v in vals.split("/") if v] for k, vals in re.findall(r"`(\w+)=([^`]*)`", m.group(3))}
    metrics[name] = (kind, labels)
    if not re.fullmatch(r"pelican_(build_info|(reward|learner|actor)_[a-z0-9_]+)", name):
        problems.append(f"{name}: not pelican_<role>_<what>")
    if (kind == "counter") != name.endswith("_total"):
        problems.append(f"{name}: counters, and only counters, end in _total")
print(f"METRICS.md: {len(metrics)} metrics")

out = subprocess.run(["/usr/bin/python3", f"{src}/deploy/prometheus/promql_exprs.py", "list", "--json"],
                     capture_output=True, text=True)
if out.returncode != 0:
    print(out.stdout + out.stderr)
    sys.exit(1)
exprs = json.loads(out.stdout)
TARGET_LABELS = {"run", "role", "job", "instance"}
used_on_dashboards = set()

def base(token):
    for suffix in ("_bucket", "_sum", "_count"):
        if token.endswith(suffix) and token[: -len(suffix)] in metrics \
                and metrics[token[: -len(suffix)]][0] == "histogram":
            return token[: -len(suffix)], suffix
    return token, ""

for e in exprs:
    text, where = e["expr"], e["source"]
    for m in re.finditer(r"\b(pelican_[a-z0-9_]+)(\{([^}]*)\})?", text):
        token, matchers = m.group(1), m.group(3) or ""
        name, suffix = base(token)
        if name not in metrics:
            problems.append(f"{where}: {token} is not in METRICS.md")
            continue
        kind, labels = metrics[name]
        if kind == "histogram" and not suffix:
            problems.append(f"{where}: histogram {name} used without _bucket/_sum/_count")
        if e["kind"] in ("panel", "annotation"):
            used_on_dashboards.add(name)
        before = text[: m.start()]
        if re.search(r"\b(rate|irate|increase)\(\s*$", before) and kind == "gauge":
            problems.append(f"{where}: rate/increase of gauge {name}")
        for lm in re.finditer(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"', matchers):
            label, op, value = lm.groups()
            if label in TARGET_LABELS or (label == "le" and suffix == "_bucket"):
                continue
            if label not in labels:
                problems.append(f"{where}: {name} has no label {label}")
            elif op == "=" and "…" not in labels[label] and value not in labels[label]:
                problems.append(f"{where}: {name}{{{label}=\"{value}\"}}: not one of {labels[label]}")

unused = sorted(set(metrics) - used_on_dashboards)
if unused:
    problems.append("on no dashboard: " + ", ".join(unused))
for p in problems:
    print("FAIL", p)
print(f"{len(exprs)} expressions checked; {len(used_on_dashboards)} of {len(metrics)} metrics on dashboards")
print("ok   metric contract" if not problems else "FAIL metric contract")
sys.exit(1 if problems else 0)
EOF
