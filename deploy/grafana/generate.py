#!/usr/bin/python3
"""Writes pelican's Grafana dashboards (deploy/grafana/dashboards/*.json) from the panel lists below.

The JSON files are generated, not hand-edited, so every panel gets a unique id, a place on the
grid, the templated datasource and the run filter. Edit this file and run it; `--check` (used by
tests/deploy_grafana_test.sh) fails when the JSON files are out of date.

    deploy/grafana/generate.py          # rewrite the dashboards
    deploy/grafana/generate.py --check  # exit 1 if any differs from what would be written

Metric names come from deploy/prometheus/METRICS.md. Learner series are aggregated with
`max by (run)` (training metrics come from rank 0; see METRICS.md), the others with `sum by (run)`.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "dashboards")
DS = {"type": "prometheus", "uid": "${datasource}"}
R = 'run=~"$run"'  # the run filter every selector carries
RI = "$__rate_interval"


def q(expr, legend="{{run}}"):
    return {"expr": expr, "legend": legend}


def learner(metric, extra=""):
    sel = R + ("," + extra if extra else "")
    return f"max by (run) (pelican_learner_{metric}{{{sel}}})"


def quantile(p, metric, by="run"):
    return (f"histogram_quantile({p}, sum by ({by}, le) "
            f"(rate({metric}_bucket{{{R}}}[{RI}])))")


def ts(title, targets, unit="short", desc="", w=12, h=8, stack=False, limit_series=None):
    """A time-series panel. `limit_series`: legend regex drawn as a dashed red threshold line."""
    p = {"type": "timeseries", "title": title, "description": desc, "targets": targets,
         "unit": unit, "w": w, "h": h, "stack": stack, "limit": limit_series}
    return p


def stat(title, targets, unit="short", desc="", w=6, h=4, mappings=None, thresholds=None):
    return {"type": "stat", "title": title, "description": desc, "targets": targets, "unit": unit,
            "w": w, "h": h, "mappings": mappings, "thresholds": thresholds}


def table(title, targets, desc="", w=24, h=6):
    return {"type": "table", "title": title, "description": desc, "targets": targets, "w": w,
            "h": h}


def row(title):
    return {"type": "row", "title": title}


# ---------------------------------------------------------------------------------------------
# Training quality: is the policy getting better, and is it still the same task?
TRAINING = {
    "uid": "pelican-training",
    "title": "pelican / Training quality",
    "description": "Reward, gold score, KL, entropy, losses and lengths of the policy being trained.",
    "panels": [
        row("Reward"),
        ts("Training reward (mean ± std)", [
            q(learner("reward_mean"), "{{run}} mean"),
            q(f"{learner('reward_mean')} + {learner('reward_std')}", "{{run}} mean + std"),
            q(f"{learner('reward_mean')} - {learner('reward_std')}", "{{run}} mean - std"),
        ], desc="Mean reward of each step's batch, with one standard deviation either side."),
        ts("Gold or verifier score vs training reward", [
            q(learner("gold_score"), "{{run}} gold"),
            q(learner("reward_mean"), "{{run}} training reward"),
        ], desc="Held-out probe score (gold scorer or verifier) against the reward being optimised. "
                "Training reward rising while gold falls is reward hacking. Gold appears after the "
                "first guard evaluation."),
        row("KL and entropy"),
        ts("KL to reference", [q(learner("kl"))], desc="Mean KL of the policy to the frozen reference."),
        ts("KL coefficient β", [q(learner("kl_coef"))],
           desc="Current KL coefficient (moves with the adaptive controller or a raise_kl guard trip)."),
        ts("Entropy", [q(learner("entropy"))], desc="Mean token entropy of the policy."),
        ts("Approximate KL of the update", [q(learner("approx_kl"))],
           desc="Approximate KL between the sampling policy and the updated one, per step."),
        row("Losses and optimisation"),
        ts("Policy loss", [q(learner("policy_loss"))]),
        ts("Value loss", [q(learner("value_loss"))], desc="0 for methods without a critic."),
        ts("Clip fraction", [q(learner("clip_fraction"))], unit="percentunit",
           desc="Fraction of tokens whose probability ratio was clipped."),
        ts("Gradient norm", [q(learner("grad_norm"))], desc="Global norm before clipping."),
        ts("Learning rate", [q(learner("learning_rate"))]),
        ts("Step and policy version", [
            q(learner("step"), "{{run}} step"),
            q(learner("policy_version"), "{{run}} policy version"),
        ]),
        row("Lengths"),
        ts("Response length", [q(learner("response_length_tokens"))], unit="none",
           desc="Mean completion length in tokens of each step's batch."),
    ],
}

# ---------------------------------------------------------------------------------------------
# System: throughput, RPCs, queues, weights and staleness.
SYSTEM = {
    "uid": "pelican-system",
    "title": "pelican / System",
    "description": "Actors, throughput, reward service RPCs, queues, weight sync and staleness.",
    "panels": [
        row("Overview"),
        stat("Actors connected", [q(learner("actors_connected"))], w=6),
        stat("Steps per minute", [q(f"max by (run) (rate(pelican_learner_steps_total{{{R}}}[{RI}])) * 60")],
             w=6),
        stat("Trained tokens/s", [q(f"max by (run) (rate(pelican_learner_tokens_total{{{R}}}[{RI}]))")],
             w=6),
        stat("Policy version", [q(learner("policy_version"))], w=6),
        table("Processes", [{"expr": f"pelican_build_info{{{R}}}", "legend": "", "instant": True,
                             "format": "table"}],
              desc="Every process that serves metrics, with its role, version and git revision."),
        row("Throughput"),
        ts("Tokens per second", [
            q(f"max by (run) (rate(pelican_learner_tokens_total{{{R}}}[{RI}]))", "{{run}} trained"),
            q(f"sum by (run) (rate(pelican_actor_tokens_generated_total{{{R}}}[{RI}]))",
              "{{run}} generated"),
        ]),
        ts("Samples per second", [
            q(f"sum by (run) (rate(pelican_actor_samples_total{{{R}}}[{RI}]))", "{{run}} generated"),
            q(f"sum by (run) (rate(pelican_reward_samples_scored_total{{{R}}}[{RI}]))", "{{run}} scored"),
        ]),
        ts("Learner step time", [
            q(quantile(0.5, "pelican_learner_step_seconds"), "{{run}} p50"),
            q(quantile(0.9, "pelican_learner_step_seconds"), "{{run}} p90"),
        ], unit="s"),
        ts("Learner time by phase", [
            q(f"avg by (run, phase) (rate(pelican_learner_phase_seconds_total{{{R}}}[{RI}]))",
              "{{run}} {{phase}}"),
        ], unit="percentunit", stack=True,
           desc="Share of wall time per phase, averaged over ranks. Mostly wait_data: the learner "
                "starves (add actors or reward replicas); mostly allreduce: the interconnect."),
        row("Reward service"),
        ts("Reward calls per second by code", [
            q(f"sum by (run, code) (rate(pelican_reward_calls_total{{{R}}}[{RI}]))", "{{run}} {{code}}"),
        ], unit="reqps"),
        ts("Reward call latency", [
            q(quantile(0.5, "pelican_reward_call_latency_seconds"), "{{run}} p50"),
            q(quantile(0.99, "pelican_reward_call_latency_seconds"), "{{run}} p99"),
        ], unit="s", desc="Arrival to reply, all codes together (the histogram has no code label)."),
        ts("Reward queue depth", [
            q(f"sum by (run, instance) (pelican_reward_queue_depth{{{R}}})", "{{run}} {{instance}}"),
        ], unit="none", desc="Samples waiting to be batched, per replica."),
        ts("Reward batch size", [
            q(quantile(0.5, "pelican_reward_batch_size"), "{{run}} p50"),
            q(quantile(0.9, "pelican_reward_batch_size"), "{{run}} p90"),
        ], unit="none"),
        ts("Samples scored by outcome", [
            q(f"sum by (run, scorer, outcome) (rate(pelican_reward_samples_scored_total{{{R}}}[{RI}]))",
              "{{run}} {{scorer}} {{outcome}}"),
        ]),
        ts("Reward model forward time", [
            q(quantile(0.9, "pelican_reward_model_forward_seconds", by="run, scorer"),
              "{{run}} {{scorer}} p90"),
        ], unit="s"),
        row("Actors"),
        ts("Actor generate and score time", [
            q(quantile(0.5, "pelican_actor_generate_seconds"), "{{run}} generate p50"),
            q(quantile(0.5, "pelican_actor_score_seconds"), "{{run}} score p50"),
        ], unit="s"),
        ts("Actor retries by RPC", [
            q(f"sum by (run, rpc) (rate(pelican_actor_retries_total{{{R}}}[{RI}]))", "{{run}} {{rpc}}"),
        ], unit="reqps"),
        ts("Pushes by code", [
            q(f"sum by (run, code) (rate(pelican_actor_pushes_total{{{R}}}[{RI}]))", "{{run}} {{code}}"),
        ], unit="reqps"),
        ts("Reward errors seen by actors", [
            q(f"sum by (run, code) (rate(pelican_actor_reward_errors_total{{{R}}}[{RI}]))",
              "{{run}} {{code}}"),
        ], unit="reqps", desc="Score calls that still failed after the actors' retries."),
        row("Ledger and staleness"),
        ts("Prompts leased, consumed and dropped", [
            q(f"max by (run) (rate(pelican_learner_ledger_leased_total{{{R}}}[{RI}]))", "{{run}} leased"),
            q(f"max by (run) (rate(pelican_learner_ledger_consumed_total{{{R}}}[{RI}]))",
              "{{run}} consumed"),
            q(f"max by (run, reason) (rate(pelican_learner_ledger_dropped_total{{{R}}}[{RI}]))",
              "{{run}} dropped {{reason}}"),
        ], desc="Per second. Every leased prompt is consumed or dropped with a reason."),
        ts("Prompts in flight", [q(learner("ledger_in_flight"))], unit="none"),
        ts("Policy lag of consumed trajectories", [
            q(quantile(0.5, "pelican_learner_policy_lag"), "{{run}} p50"),
            q(quantile(0.9, "pelican_learner_policy_lag"), "{{run}} p90"),
        ], unit="none", desc="Policy versions between the actor's sampling policy and the learner's."),
        ts("Stale fraction", [
            q(f"max by (run) (rate(pelican_learner_ledger_dropped_total{{{R},reason=\"stale\"}}[{RI}])) "
              f"/ max by (run) (rate(pelican_learner_ledger_leased_total{{{R}}}[{RI}]))"),
        ], unit="percentunit", desc="Share of leased prompts dropped for lagging more than "
                                    "learner.max_policy_lag (alert PelicanStalenessHigh at 20%)."),
        ts("Policy version: learner and oldest actor", [
            q(learner("policy_version"), "{{run}} learner"),
            q(f"min by (run) (pelican_actor_policy_version{{{R}}})", "{{run}} oldest actor"),
        ], unit="none"),
        row("Weights and checkpoints"),
        ts("Weight sync time (actors)", [
            q(quantile(0.5, "pelican_actor_weight_sync_seconds"), "{{run}} p50"),
            q(quantile(0.99, "pelican_actor_weight_sync_seconds"), "{{run}} p99"),
        ], unit="s"),
        ts("Weight publish time (learner)", [
            q(quantile(0.5, "pelican_learner_weight_publish_seconds"), "{{run}} p50"),
            q(quantile(0.9, "pelican_learner_weight_publish_seconds"), "{{run}} p90"),
        ], unit="s"),
        ts("Weight bytes per second", [
            q(f"max by (run) (rate(pelican_learner_weight_publish_bytes_total{{{R}}}[{RI}]))",
              "{{run}} sent by learner"),
            q(f"sum by (run) (rate(pelican_actor_weight_bytes_total{{{R}}}[{RI}]))",
              "{{run}} received by actors"),
        ], unit="Bps"),
        ts("Checkpoint time", [
            q(quantile(0.9, "pelican_learner_checkpoint_seconds"), "{{run}} p90"),
        ], unit="s", desc="Checkpoints written so far: see the stat beside it."),
        stat("Checkpoints written", [q(learner("checkpoints_total"))], w=12, h=8),
    ],
}

# ---------------------------------------------------------------------------------------------
# Guard: the reward-hacking guard's signals against their limits, and its trips.
# (signal, title, description, has a configurable limit that trips the guard)
SIGNALS = [
    ("gold_drop", "Gold drop below best",
     "Fraction the gold score has fallen below its best (guard.gold_drop).", True),
    ("kl", "KL to reference", "Mean KL to the reference against guard.kl_budget.", True),
    ("kl_accel", "KL acceleration",
     "Second difference of the mean KL over the last three probe windows; KL speeding up is an "
     "early sign.", False),
    ("ensemble_std", "Reward-model ensemble disagreement",
     "Spread of the ensemble's scores; rising when the policy leaves the models' training data.",
     False),
    ("repeat_ngram", "Repeated n-gram fraction",
     "Share of repeated 3-grams in completions (guard.max_repeat_ngram_fraction).", True),
    ("distinct_2", "Distinct-2", "Share of distinct bigrams; collapsing text lowers it.", False),
    ("length_drift", "Length drift",
     "Mean completion length of the last probe window relative to the first, minus 1.", False),
    ("entropy", "Entropy",
     "Mean token entropy; a floor (guard.min_entropy), entropy collapse falls below it.", True),
]
GUARD = {
    "uid": "pelican-guard",
    "title": "pelican / Guard",
    "description": "The reward-hacking guard: each signal against its configured limit, and trips.",
    "panels": [
        row("State"),
        stat("Guard", [q(learner("guard_tripped"))], w=6,
             mappings=[{"type": "value", "options": {
                 "0": {"text": "OK", "color": "green", "index": 0},
                 "1": {"text": "TRIPPED", "color": "red", "index": 1}}}],
             thresholds=[{"color": "green", "value": None}, {"color": "red", "value": 1}]),
        stat("Trips", [q(learner("guard_trips_total"))], w=6,
             thresholds=[{"color": "green", "value": None}, {"color": "red", "value": 1}]),
        stat("Best gold score", [q(learner("guard_best_score"))], w=6),
        stat("Gold score now", [q(learner("gold_score"))], w=6),
        ts("Gold score, best and training reward", [
            q(learner("gold_score"), "{{run}} gold"),
            q(learner("guard_best_score"), "{{run}} best gold"),
            q(learner("reward_mean"), "{{run}} training reward"),
        ], w=24, desc="The best checkpoint is kept by the gold score."),
        row("Signals and limits"),
    ] + [
        ts(title, [q(learner("guard_signal", f'signal="{sig}"'), "{{run}}")] + ([
            q(learner("guard_threshold", f'signal="{sig}"'), "{{run}} limit")] if limited else []),
            desc=desc + (" The dashed red line is the configured limit (absent when off)."
                         if limited else " Reported; no limit trips on it."),
            limit_series=".* limit$" if limited else None)
        for sig, title, desc, limited in SIGNALS
    ],
}

GUARD_TRIPS_ANNOTATION = {
    "name": "Guard trips",
    "expr": f"changes(max by (run) (pelican_learner_guard_trips_total{{{R}}})[5m:]) > 0",
    "color": "red",
}


def build(spec, annotations=()):
    panels, pid, x, y, rowh = [], 1, 0, 0, 0
    for p in spec["panels"]:
        if p["type"] == "row":
            if x:
                y, x = y + rowh, 0
            panels.append({"id": pid, "type": "row", "title": p["title"], "collapsed": False,
                           "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})
            pid, y, rowh = pid + 1, y + 1, 0
            continue
        w, h = p["w"], p["h"]
        if x + w > 24:
            y, x, rowh = y + rowh, 0, 0
        panel = {"id": pid, "type": p["type"], "title": p["title"], "datasource": DS,
                 "gridPos": {"h": h, "w": w, "x": x, "y": y}}
        if p.get("description"):
            panel["description"] = p["description"]
        panel["targets"] = []
        for i, t in enumerate(p["targets"]):
            target = {"refId": chr(ord("A") + i), "datasource": DS, "expr": t["expr"],
                      "legendFormat": t["legend"] or "__auto"}
            if t.get("instant"):
                target.update(instant=True, range=False, format=t.get("format", "time_series"))
            else:
                target["range"] = True
            panel["targets"].append(target)
        defaults = {"unit": p.get("unit", "short")}
        overrides = []
        if p["type"] == "timeseries":
            defaults["custom"] = {"lineWidth": 1, "fillOpacity": 20 if p["stack"] else 0,
                                  "stacking": {"mode": "normal" if p["stack"] else "none",
                                               "group": "A"}}
            panel["options"] = {"legend": {"displayMode": "list", "placement": "bottom",
                                           "showLegend": True},
                                "tooltip": {"mode": "multi", "sort": "none"}}
            if p["limit"]:
                overrides.append({
                    "matcher": {"id": "byRegexp", "options": p["limit"]},
                    "properties": [
                        {"id": "color", "value": {"mode": "fixed", "fixedColor": "red"}},
                        {"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}},
                    ]})
        elif p["type"] == "stat":
            panel["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "",
                                                  "values": False},
                                "colorMode": "value", "graphMode": "area", "textMode": "auto",
                                "orientation": "auto", "justifyMode": "auto"}
            if p.get("mappings"):
                defaults["mappings"] = p["mappings"]
            if p.get("thresholds"):
                defaults["thresholds"] = {"mode": "absolute", "steps": p["thresholds"]}
        elif p["type"] == "table":
            panel["options"] = {"showHeader": True}
            panel["transformations"] = [{"id": "organize", "options": {
                "excludeByName": {"Time": True, "Value": True, "__name__": True}}}]
        panel["fieldConfig"] = {"defaults": defaults, "overrides": overrides}
        panels.append(panel)
        pid += 1
        x += w
        rowh = max(rowh, h)
    annotation_list = [{
        "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True,
        "hide": True, "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts",
        "type": "dashboard"}]
    for a in annotations:
        annotation_list.append({"datasource": DS, "enable": True, "expr": a["expr"],
                                "iconColor": a["color"], "name": a["name"],
                                "titleFormat": a["name"], "textFormat": "{{run}}",
                                "step": "1m"})
    return {
        "uid": spec["uid"],
        "title": spec["title"],
        "description": spec["description"],
        "tags": ["pelican"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "links": [{"title": "pelican dashboards", "type": "dashboards", "tags": ["pelican"],
                   "asDropdown": True, "includeVars": True, "keepTime": True}],
        "annotations": {"list": annotation_list},
        "templating": {"list": [
            {"name": "datasource", "label": "Data source", "type": "datasource",
             "query": "prometheus", "current": {}, "hide": 0, "refresh": 1, "regex": "",
             "includeAll": False, "multi": False, "options": []},
            {"name": "run", "label": "Run", "type": "query", "datasource": DS,
             "definition": "label_values(pelican_build_info, run)",
             "query": {"query": "label_values(pelican_build_info, run)", "refId": "run"},
             "current": {}, "hide": 0, "refresh": 2, "regex": "", "sort": 1,
             "includeAll": True, "allValue": ".*", "multi": True, "options": []},
        ]},
        "panels": panels,
    }


DASHBOARDS = {
    "pelican-training.json": (TRAINING, [GUARD_TRIPS_ANNOTATION]),
    "pelican-system.json": (SYSTEM, []),
    "pelican-guard.json": (GUARD, [GUARD_TRIPS_ANNOTATION]),
}


def render(spec, annotations):
    return json.dumps(build(spec, annotations), indent=2, ensure_ascii=False) + "\n"


def main(argv):
    check = "--check" in argv[1:]
    stale = []
    os.makedirs(OUT_DIR, exist_ok=True)
    for name, (spec, annotations) in DASHBOARDS.items():
        path = os.path.join(OUT_DIR, name)
        text = render(spec, annotations)
        old = open(path, encoding="utf-8").read() if os.path.exists(path) else None
        if old == text:
            continue
        if check:
            stale.append(name)
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            print("wrote", os.path.relpath(path))
    if stale:
        print("out of date (run deploy/grafana/generate.py):", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
