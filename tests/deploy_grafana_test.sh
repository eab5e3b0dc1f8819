#!/usr/bin/env bash
# deploy/grafana: the dashboards are what generate.py writes, are valid JSON with unique uids,
# titles and panel ids, lay out on the 24-column grid without overlaps, use the templated
# datasource everywhere and the run filter on every pelican selector, and cover what each is for;
# the provisioning files point at them. (Every expression parses: deploy_promql_exprs.sh.)
# Usage: deploy_grafana_test.sh [SRC]
set -u
src=${1:-$(cd "$(dirname "$0")/.." && pwd)}
fail=0
if /usr/bin/python3 "$src/deploy/grafana/generate.py" --check; then
  echo "ok   dashboards are up to date with generate.py"
else
  echo "FAIL dashboards differ from generate.py's output"; fail=1
fi
/usr/bin/python3 - "$src" <<'EOF' || fail=1
import glob, json, os, re, sys

src = sys.argv[1]
gdir = f"{src}/deploy/grafana"
problems = []
def bad(msg): problems.append(msg)

paths = sorted(glob.glob(f"{gdir}/dashboards/*.json"))
if len(paths) < 3:
    bad(f"{len(paths)} dashboards; want at least 3 (training, system, guard)")
DS = "${datasource}"
uids, titles, by_uid = set(), set(), {}
for path in paths:
    name = os.path.basename(path)
    try:
        d = json.load(open(path, encoding="utf-8"))
    except ValueError as e:
        bad(f"{name}: not JSON: {e}")
        continue
    for key, seen in (("uid", uids), ("title", titles)):
        if not d.get(key):
            bad(f"{name}: no {key}")
        elif d[key] in seen:
            bad(f"{name}: {key} {d[key]!r} used by another dashboard")
        seen.add(d.get(key))
    by_uid[d.get("uid")] = d
    variables = {v.get("name"): v for v in d.get("templating", {}).get("list", [])}
    ds = variables.get("datasource", {})
    if ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        bad(f"{name}: no templated Prometheus datasource variable 'datasource'")
    run = variables.get("run", {})
    q = run.get("query", {})
    q = q.get("query") if isinstance(q, dict) else q
    if run.get("type") != "query" or not re.fullmatch(r"label_values\(\s*\w+\s*,\s*run\s*\)", q or "") \
            or run.get("datasource", {}).get("uid") != DS or not run.get("includeAll") \
            or not run.get("multi") or run.get("allValue") != ".*":
        bad(f"{name}: 'run' variable must be a multi-value label_values(..., run) query with All = .*")

    def all_panels(items):
        for p in items:
            yield p
            yield from all_panels(p.get("panels", []))
    panels = list(all_panels(d.get("panels", [])))
    ids, ptitles, cells = set(), set(), {}
    for p in panels:
        t = p.get("title")
        if p.get("id") in ids:
            bad(f"{name}: panel id {p.get('id')} used twice")
        ids.add(p.get("id"))
        if not t or t in ptitles:
            bad(f"{name}: panel title {t!r} empty or used twice")
        ptitles.add(t)
        g = p.get("gridPos", {})
        if not all(isinstance(g.get(k), int) for k in "xywh") or g["x"] < 0 or g["x"] + g["w"] > 24:
            bad(f"{name}: panel {t!r}: gridPos {g} off the 24-column grid")
        else:
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    if (x, y) in cells:
                        bad(f"{name}: panels {cells[(x, y)]!r} and {t!r} overlap")
                        break
                    cells[(x, y)] = t
                else:
                    continue
                break
        if p.get("type") == "row":
            continue
        if p.get("datasource", {}).get("uid") != DS:
            bad(f"{name}: panel {t!r} does not use the datasource variable")
        targets = p.get("targets", [])
        if not targets:
            bad(f"{name}: panel {t!r} has no query")
        for tg in targets:
            if tg.get("datasource", {}).get("uid") != DS:
                bad(f"{name}: panel {t!r} query {tg.get('refId')} does not use the datasource variable")
            expr = tg.get("expr", "")
            if not expr.strip():
                bad(f"{name}: panel {t!r} query {tg.get('refId')} is empty")
            for m in re.finditer(r"\b(pelican_\w+)(\{[^}]*\})?", expr):
                if 'run=~"$run"' not in (m.group(2) or ""):
                    bad(f"{name}: panel {t!r}: {m.group(1)} is not filtered by run=~\"$run\"")
    for a in d.get("annotations", {}).get("list", []):
        if a.get("expr") and a.get("datasource", {}).get("uid") != DS:
            bad(f"{name}: annotation {a.get('name')!r} does not use the datasource variable")

# What each dashboard is for (the issue's list): the metrics it must show.
def shows(uid, metrics):
    d = by_uid.get(uid)
    if d is None:
        bad(f"no dashboard with uid {uid}")
        return
    text = json.dumps(d)
    for m in metrics:
        if m not in text:
            bad(f"{uid}: does not show {m}")
shows("pelican-training", ["pelican_learner_reward_mean", "pelican_learner_reward_std",
      "pelican_learner_gold_score", "pelican_learner_kl{", "pelican_learner_entropy",
      "pelican_learner_policy_loss", "pelican_learner_value_loss", "pelican_learner_clip_fraction",
      "pelican_learner_response_length_tokens"])
shows("pelican-system", ["pelican_learner_actors_connected", "pelican_learner_tokens_total",
      "pelican_actor_tokens_generated_total", "pelican_reward_calls_total",
      "histogram_quantile(0.99, sum by (run, le) (rate(pelican_reward_call_latency_seconds_bucket",
      "pelican_reward_queue_depth", "pelican_actor_weight_sync_seconds",
      "pelican_learner_weight_publish_bytes_total", "pelican_learner_policy_lag",
      'reason=\\"stale\\"'])
metrics_md = open(f"{src}/deploy/prometheus/METRICS.md", encoding="utf-8").read()
signals = re.search(r"`pelican_learner_guard_signal`[^\n]*`signal=([^`]*)`", metrics_md)
limits = re.search(r"`pelican_learner_guard_threshold`[^\n]*`signal=([^`]*)`", metrics_md)
guard = ["pelican_learner_guard_tripped", "pelican_learner_guard_trips_total"]
for s in (signals.group(1).split("/") if signals else []):
    guard.append(f'pelican_learner_guard_signal{{run=~\\"$run\\",signal=\\"{s}\\"}}')
for s in (limits.group(1).split("/") if limits else []):
    guard.append(f'pelican_learner_guard_threshold{{run=~\\"$run\\",signal=\\"{s}\\"}}')
if not signals or not limits:
    bad("METRICS.md: no signal list for pelican_learner_guard_signal or _threshold")
shows("pelican-guard", guard)

prov = open(f"{gdir}/provisioning/datasources/pelican.yml").read()
if not re.search(r"^\s*type:\s*prometheus\s*$", prov, re.M):
    bad("provisioning/datasources/pelican.yml: no Prometheus datasource")
prov = open(f"{gdir}/provisioning/dashboards/pelican.yml").read()
if "path: /var/lib/grafana/dashboards/pelican" not in prov or "type: file" not in prov:
    bad("provisioning/dashboards/pelican.yml: no file provider for /var/lib/grafana/dashboards/pelican")

for p in problems:
    print("FAIL", p)
print(f"{'ok  ' if not problems else 'FAIL'} {len(paths)} dashboards: structure, datasource, run filter, coverage")
sys.exit(1 if problems else 0)
EOF
exit $fail
