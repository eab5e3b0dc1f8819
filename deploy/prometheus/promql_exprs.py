#!/usr/bin/python3
"""Every PromQL expression pelican ships, extracted from the Grafana dashboards and the alert rules,
checked offline with promtool or queried against a live Prometheus. Python standard library only.

    promql_exprs.py list [--json]         one line per expression: SOURCE<TAB>EXPRESSION
    promql_exprs.py check                 parse every expression with promtool (offline)
    promql_exprs.py query URL             query every expression against the Prometheus at URL and
                                          check that every alert rule evaluates

`query` fails for a dashboard expression that errors or returns no data, for an alert or recording
rule whose expression errors, and for a rule that Prometheus does not have or that does not
evaluate cleanly (/api/v1/rules health). Use it against Prometheus scraping a live `pelican run`
(deploy/local/monitor.sh) or the fake exporter (deploy/prometheus/fake_exporter.py).

Grafana variables are replaced before parsing or querying: $run by --run (default .*),
$__rate_interval by --rate-interval (default 1m); label_values(M, L) becomes group by (L) (M).
Any other $variable is an error, so a new one cannot slip through unchecked.
Options: --dashboards DIR, --rules DIR (defaults: the ones beside this file), --run, --rate-interval.
"""
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


class Expr:
    def __init__(self, source, kind, raw):
        self.source, self.kind, self.raw, self.expr = source, kind, raw, None


# --- extraction -----------------------------------------------------------------------------

def dashboard_exprs(directory):
    out = []
    for path in sorted(glob.glob(os.path.join(directory, "*.json"))):
        name = os.path.basename(path)
        with open(path, encoding="utf-8") as f:
            dash = json.load(f)

        def panels(items):
            for p in items:
                yield p
                yield from panels(p.get("panels", []))

        for p in panels(dash.get("panels", [])):
            for t in p.get("targets", []):
                if t.get("expr"):
                    out.append(Expr(f"{name}: panel {p.get('title')!r} {t.get('refId', '')}",
                                    "panel", t["expr"]))
        for a in dash.get("annotations", {}).get("list", []):
            if a.get("expr"):
                out.append(Expr(f"{name}: annotation {a.get('name')!r}", "annotation", a["expr"]))
        for v in dash.get("templating", {}).get("list", []):
            if v.get("type") == "query":
                query = v.get("query")
                query = query.get("query") if isinstance(query, dict) else query
                if query:
                    out.append(Expr(f"{name}: variable {v.get('name')!r}", "variable", query))
    return out


def _unquote(value):
    value = value.strip()
    if value.startswith('"'):
        return json.loads(value)
    if value.startswith("'"):
        return value[1:-1].replace("''", "'")
    return value


def rule_exprs(directory):
    """Alert and recording rules of every rule file (not *test*) in `directory`. Reads the subset
    of YAML that rule files are written in: `expr:` as a plain or quoted scalar on one line, or a
    block scalar (| or >) on the lines after it."""
    out = []
    for path in sorted(glob.glob(os.path.join(directory, "*.y*ml"))):
        name = os.path.basename(path)
        if "test" in name:
            continue
        lines = open(path, encoding="utf-8").read().splitlines()
        current = None
        i = 0
        while i < len(lines):
            line = lines[i]
            m = re.match(r"^\s*-\s+(alert|record):\s*(\S+)", line)
            if m:
                current = (m.group(1), _unquote(m.group(2)))
            m = re.match(r"^(\s*)(?:-\s+)?expr:\s*(.*?)\s*$", line)
            if m:
                if current is None:
                    raise ValueError(f"{name}:{i + 1}: expr outside an alert or record rule")
                indent, value = len(m.group(1)), m.group(2)
                if value[:1] in ("|", ">"):
                    block = []
                    while i + 1 < len(lines) and (not lines[i + 1].strip()
                                                  or len(lines[i + 1]) - len(lines[i + 1].lstrip()) > indent):
                        i += 1
                        block.append(lines[i].strip())
                    value = "\n".join(block).strip()
                else:
                    nxt = lines[i + 1] if i + 1 < len(lines) else ""
                    if nxt.strip() and len(nxt) - len(nxt.lstrip()) > indent and ":" not in nxt:
                        raise ValueError(f"{name}:{i + 2}: multi-line plain scalar; write the "
                                         "expression as a block scalar (expr: |)")
                    value = _unquote(value)
                out.append(Expr(f"{name}: {current[0]} {current[1]}", current[0], value))
                current = None
            i += 1
    return out


def substitute(e, run, rate_interval):
    s = e.raw
    m = re.fullmatch(r"\s*label_values\(\s*([^,]+?)\s*,\s*(\w+)\s*\)\s*", s)
    if m:
        s = f"group by ({m.group(2)}) ({m.group(1)})"
    s = s.replace("$__rate_interval", rate_interval).replace("${__rate_interval}", rate_interval)
    s = s.replace("${run}", run).replace("$run", run)
    left = re.findall(r"\$\{?\w+", s)
    if left:
        raise ValueError(f"{e.source}: unknown Grafana variable(s) {sorted(set(left))} in {e.raw!r}")
    e.expr = s
    return e


def extract(args):
    exprs = dashboard_exprs(args["dashboards"]) + rule_exprs(args["rules"])
    for e in exprs:
        substitute(e, args["run"], args["rate_interval"])
    return exprs


# --- checks ---------------------------------------------------------------------------------

def promtool_rules_file(exprs, path):
    with open(path, "w", encoding="utf-8") as f:
        f.write("groups:\n  - name: extracted\n    rules:\n")
        for i, e in enumerate(exprs):
            f.write(f"      - record: pelican_extracted:expr_{i}\n")
            f.write(f"        expr: {json.dumps(e.expr)}\n")


def promtool(*args):
    try:
        p = subprocess.run(["promtool", *args], capture_output=True, text=True)
    except FileNotFoundError:
        sys.exit("promtool not found: install Debian's prometheus package (scripts/install-deps.sh)")
    return p.returncode, p.stdout + p.stderr


def cmd_check(args):
    exprs = extract(args)
    if not exprs:
        print("no expressions found")
        return 1
    bad_exprs = 0
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "extracted.yml")
        promtool_rules_file(exprs, path)
        rc, out = promtool("check", "rules", path)
        if rc != 0:  # find the culprits one by one
            for e in exprs:
                promtool_rules_file([e], path)
                rc1, out1 = promtool("check", "rules", path)
                if rc1 != 0:
                    bad_exprs += 1
                    msg = out1.strip().splitlines()[-1] if out1.strip() else "?"
                    print(f"FAIL {e.source}: {msg}\n     {e.expr}")
    failed = bad_exprs
    # The rule-file reader above is a YAML subset: make sure it saw every rule promtool sees.
    rule_files = [p for p in sorted(glob.glob(os.path.join(args["rules"], "*.y*ml")))
                  if "test" not in os.path.basename(p)]
    ours = sum(1 for e in exprs if e.kind in ("alert", "record"))
    theirs = 0
    for p in rule_files:
        rc, out = promtool("check", "rules", p)
        m = re.search(r"SUCCESS: (\d+) rules found", out)
        if rc != 0 or not m:
            print(f"FAIL promtool check rules {p}:\n{out}")
            failed += 1
        else:
            theirs += int(m.group(1))
    if ours != theirs:
        print(f"FAIL extracted {ours} rules, promtool counts {theirs}")
        failed += 1
    kinds = {}
    for e in exprs:
        kinds[e.kind] = kinds.get(e.kind, 0) + 1
    print(f"{len(exprs)} expressions ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}), "
          f"{len(rule_files)} rule files")
    print(f"{len(exprs) - bad_exprs} passed, {failed} failed")
    return 1 if failed else 0


def http_json(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.load(r)


def cmd_query(args, base):
    base = base.rstrip("/")
    exprs = extract(args)
    passed = failed = 0
    for e in exprs:
        url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": e.expr})
        try:
            body = http_json(url)
            result = body.get("data", {}).get("result", [])
            problem = None if body.get("status") == "success" else body.get("error", "error")
        except urllib.error.HTTPError as err:
            problem = f"HTTP {err.code}: {err.read().decode(errors='replace').strip()}"
            result = []
        except (urllib.error.URLError, OSError) as err:
            sys.exit(f"cannot reach Prometheus at {base}: {err}")
        if problem is None and not result and e.kind in ("panel", "annotation", "variable"):
            if e.kind == "annotation":  # annotations mark rare events: no data is normal
                problem = None
            else:
                problem = "no data"
        if problem:
            failed += 1
            print(f"FAIL {e.source}: {problem}\n     {e.expr}")
        else:
            passed += 1
    # Every rule must be loaded and evaluate cleanly.
    wanted = {(e.kind, e.source.split(": ", 1)[1].split(" ", 1)[1]) for e in exprs
              if e.kind in ("alert", "record")}
    rules = http_json(f"{base}/api/v1/rules").get("data", {}).get("groups", [])
    seen = {}
    for g in rules:
        for r in g.get("rules", []):
            kind = "alert" if r.get("type") == "alerting" else "record"
            seen[(kind, r.get("name"))] = r
    for key in sorted(wanted):
        r = seen.get(key)
        if r is None:
            failed += 1
            print(f"FAIL {key[0]} {key[1]}: not loaded by Prometheus at {base}")
        elif r.get("health") != "ok" or r.get("lastError"):
            failed += 1
            print(f"FAIL {key[0]} {key[1]}: health {r.get('health')!r} {r.get('lastError', '')}")
        else:
            passed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def main(argv):
    args = {"dashboards": os.path.join(HERE, "..", "grafana", "dashboards"),
            "rules": os.path.join(HERE, "rules"), "run": ".*", "rate_interval": "1m"}
    pos, as_json = [], False
    it = iter(argv[1:])
    for a in it:
        if a in ("--dashboards", "--rules", "--run", "--rate-interval"):
            args[a[2:].replace("-", "_")] = next(it, None)
        elif a == "--json":
            as_json = True
        elif a in ("-h", "--help"):
            print(__doc__)
            return 0
        else:
            pos.append(a)
    if not pos or pos[0] not in ("list", "check", "query") or (pos[0] == "query") != (len(pos) == 2):
        sys.stderr.write(__doc__)
        return 2
    try:
        if pos[0] == "list":
            exprs = extract(args)
            if as_json:
                print(json.dumps([{"source": e.source, "kind": e.kind, "expr": e.expr,
                                   "template": e.raw} for e in exprs], indent=2))
            else:
                for e in exprs:
                    print(f"{e.source}\t{' '.join(e.expr.split())}")
            return 0 if exprs else 1
        if pos[0] == "check":
            return cmd_check(args)
        return cmd_query(args, pos[1])
    except ValueError as err:
        print(f"FAIL {err}")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
