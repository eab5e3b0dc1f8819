#!/usr/bin/env bash
# Watch a `pelican run` on this machine with Prometheus: writes RUN_DIR/prometheus/prometheus.yml,
# which scrapes the processes listed in RUN_DIR/prometheus_targets*.json (written by `pelican run`,
# Prometheus file_sd format, labels role and run) and loads pelican's alert rules, then runs
# Debian's Prometheus on it with its data in RUN_DIR/prometheus/data until Ctrl-C.
#
#   deploy/local/monitor.sh RUN_DIR [--port 9090] [--scrape-interval 5s]
#
# Prometheus listens on 127.0.0.1 only; from another machine use `ssh -L 9090:127.0.0.1:9090`.
# Dashboards: point Grafana at the printed URL (deploy/grafana/README.md).
set -euo pipefail

usage() {
  echo "usage: $0 RUN_DIR [--port 9090] [--scrape-interval 5s]" >&2
  exit 2
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rules=$(cd "$here/../prometheus/rules" && pwd)/pelican-alerts.yml
run_dir=""
port=9090
interval=5s
while (($#)); do
  case $1 in
    --port) [ $# -ge 2 ] || usage; port=$2; shift 2 ;;
    --port=*) port=${1#--port=}; shift ;;
    --scrape-interval) [ $# -ge 2 ] || usage; interval=$2; shift 2 ;;
    --scrape-interval=*) interval=${1#--scrape-interval=}; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    -*) echo "monitor.sh: unknown option $1" >&2; usage ;;
    *) [ -z "$run_dir" ] || usage; run_dir=$1; shift ;;
  esac
done
[ -n "$run_dir" ] || usage
if ! [[ $port =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
  echo "monitor.sh: bad port '$port'" >&2
  exit 2
fi
[[ $interval =~ ^[0-9]+(ms|s|m)$ ]] || { echo "monitor.sh: bad interval '$interval' (e.g. 5s)" >&2; exit 2; }
if [ ! -d "$run_dir" ]; then
  echo "monitor.sh: $run_dir is not a directory (start 'pelican run CONFIG --run_dir $run_dir' first)" >&2
  exit 2
fi
prometheus=${PROMETHEUS:-prometheus}
if ! command -v "$prometheus" >/dev/null; then
  echo "monitor.sh: '$prometheus' not found: install Debian's prometheus package" \
       "(sudo apt-get install prometheus; scripts/install-deps.sh does it)" >&2
  exit 1
fi

run_dir=$(cd "$run_dir" && pwd)
prom_dir=$run_dir/prometheus
mkdir -p "$prom_dir/data"
yaml_quote() { local s=${1//\'/\'\'}; printf "'%s'" "$s"; }

cat >"$prom_dir/prometheus.yml" <<EOF
# Written by deploy/local/monitor.sh for $run_dir; rewritten at every start.
global:
  scrape_interval: $interval
  evaluation_interval: $interval
rule_files:
  - $(yaml_quote "$rules")
scrape_configs:
  - job_name: pelican
    honor_labels: true  # pelican_build_info has its own role label; do not rename it exported_role
    file_sd_configs:
      - files:
          - $(yaml_quote "$run_dir/prometheus_targets*.json")
        refresh_interval: 5s
EOF

if ! compgen -G "$run_dir/prometheus_targets*.json" >/dev/null; then
  echo "monitor.sh: no $run_dir/prometheus_targets.json yet; targets appear when 'pelican run' writes it"
fi
echo "monitor.sh: Prometheus for $run_dir at http://127.0.0.1:$port (targets: /targets, alerts: /alerts)"
echo "monitor.sh: config $prom_dir/prometheus.yml, data $prom_dir/data; Ctrl-C stops it"
exec "$prometheus" \
  --config.file="$prom_dir/prometheus.yml" \
  --storage.tsdb.path="$prom_dir/data" \
  --web.listen-address="127.0.0.1:$port" \
  --log.level=warn
