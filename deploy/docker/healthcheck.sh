#!/bin/sh
# Docker HEALTHCHECK of a pelican container: healthy while the process serves its metrics
# (pelican_build_info) at PELICAN_HEALTH_URL, by default http://127.0.0.1:$PELICAN_METRICS_PORT/metrics
# (port 9400: start roles with --metrics_listen 0.0.0.0:9400). Installed as pelican-healthcheck.
url=${PELICAN_HEALTH_URL:-http://127.0.0.1:${PELICAN_METRICS_PORT:-9400}/metrics}
body=$(curl -fsS --max-time 4 "$url") || exit 1
case $body in
  *pelican_build_info*) exit 0 ;;
  *) echo "pelican-healthcheck: $url serves no pelican_build_info" >&2; exit 1 ;;
esac
