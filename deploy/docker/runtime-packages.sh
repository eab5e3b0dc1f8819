#!/usr/bin/env bash
# Prints the Debian/Ubuntu packages that provide the shared libraries BINARY links directly, one a
# line, so that a runtime image installs exactly those (apt pulls in what they need). Libraries
# under an ALLOWED_PREFIX (copied into the image by other means, e.g. a LibTorch zip) are left
# out; any other library no package owns is an error, so a missing runtime dependency fails the
# image build instead of the first `docker run`.
#   deploy/docker/runtime-packages.sh BINARY [ALLOWED_PREFIX...]
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 BINARY [ALLOWED_PREFIX...]" >&2; exit 2; }
binary=$1
shift
allowed=("$@")

ldd_out=$(ldd "$binary")
if grep -q "not found" <<<"$ldd_out"; then
  echo "runtime-packages.sh: $binary: unresolved libraries:" >&2
  grep "not found" <<<"$ldd_out" >&2
  exit 1
fi
needed=$(readelf -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
[ -n "$needed" ] || { echo "runtime-packages.sh: $binary links no shared library?" >&2; exit 1; }

bad=0
packages=()
for so in $needed; do
  path=$(awk -v so="$so" '$1 == so && $2 == "=>" {print $3}' <<<"$ldd_out")
  [ -n "$path" ] || continue  # the dynamic loader itself
  skip=0
  # Compare both spellings on both sides: /usr/local/cuda is often a link to /usr/local/cuda-X.Y.
  for prefix in "${allowed[@]}"; do
    real_prefix=$(realpath -m "$prefix")
    for p in "$path" "$(realpath "$path")"; do
      case $p in "$prefix"/* | "$real_prefix"/*) skip=1 ;; esac
    done
  done
  ((skip)) && continue
  # Merged /usr: ldd may say /lib/... for a file the package lists as /usr/lib/... or the reverse.
  owner=$(dpkg -S "$path" 2>/dev/null || dpkg -S "/usr$path" 2>/dev/null || dpkg -S "${path#/usr}" 2>/dev/null) || {
    echo "runtime-packages.sh: no package owns $path ($so)" >&2
    bad=1
    continue
  }
  packages+=("${owner%%:*}")
done
printf '%s\n' "${packages[@]}" | sort -u
exit $bad
