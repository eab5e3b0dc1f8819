#!/usr/bin/env bash
# deploy/docker without Docker (none here): the Dockerfiles are checked for what breaks builds and
# deployments (every COPY source exists and is not .dockerignored, --from names a stage, base
# images have tags, the final stage runs as a numeric non-root user, has a HEALTHCHECK and a
# `pelican` ENTRYPOINT), runtime-packages.sh names the packages of a binary's libraries and fails
# on a library no package owns, and the healthcheck tells a serving process from a dead one.
# Usage: deploy_docker_test.sh [SRC] [PELICAN [LIB_DIR...]]
set -u
src=${1:-$(cd "$(dirname "$0")/.." && pwd)}
pelican=${2:-}
shift $(($# < 2 ? $# : 2))
lib_dirs=("$@")  # where CMake found LibTorch, the CUDA runtime and NCCL that pelican links
py=/usr/bin/python3
dock=$src/deploy/docker
tmp=$(mktemp -d)
srv=""
trap '[ -n "$srv" ] && kill "$srv" 2>/dev/null; rm -rf "$tmp"' EXIT
fail=0
check() {
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fail=1; return 1; fi
}

"$py" - "$src" "$dock/Dockerfile" "$dock/Dockerfile.cuda" <<'EOF' || fail=1
import fnmatch, json, os, re, shlex, sys
src, files = sys.argv[1], sys.argv[2:]
problems = []
for path in files:
    name = os.path.relpath(path, src)
    text = open(path).read()
    if not text.startswith("# syntax=docker/dockerfile:1"):
        problems.append(f"{name}: first line is not '# syntax=docker/dockerfile:1...' (RUN --mount needs it)")
    ignore_file = path + ".dockerignore"
    ignores = [l.strip() for l in open(ignore_file)] if os.path.exists(ignore_file) else []
    ignores = [l for l in ignores if l and not l.startswith("#")]
    if not ignores:
        problems.append(f"{name}: no {os.path.basename(ignore_file)} (the build context would include build/)")
    if any(fnmatch.fnmatch(".git", p.rstrip("/")) for p in ignores):
        problems.append(f"{name}: .dockerignore drops .git, which the build needs for its revision")
    lines = re.sub(r"\\\n", " ", text).splitlines()
    instr = [l.strip() for l in lines if l.strip() and not l.strip().startswith("#")]
    args, stages, final = {}, [], None
    for line in instr:
        op, _, rest = line.partition(" ")
        op = op.upper()
        if op == "ARG" and not stages:
            k, _, v = rest.partition("=")
            args[k.strip()] = v.strip()
        elif op == "FROM":
            words = rest.split()
            image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), "?" + m.group(1)), words[0])
            if "?" in image or ":" not in image or image.endswith(":latest"):
                problems.append(f"{name}: FROM {words[0]} -> {image}: no pinned tag (or undeclared ARG)")
            stages.append(words[2] if len(words) >= 3 and words[1].upper() == "AS" else None)
            final = {"USER": None, "HEALTHCHECK": None, "ENTRYPOINT": None, "EXPOSE": ""}
        elif op == "COPY":
            words = shlex.split(rest)
            opts = [w for w in words if w.startswith("--")]
            paths = [w for w in words if not w.startswith("--")]
            frm = [o.split("=", 1)[1] for o in opts if o.startswith("--from=")]
            if frm:
                if frm[0] not in stages[:-1]:
                    problems.append(f"{name}: COPY --from={frm[0]}: no such earlier stage")
                continue
            for s in paths[:-1]:
                p = s.rstrip("/")
                if not os.path.exists(os.path.join(src, p)):
                    problems.append(f"{name}: COPY {s}: not in the repository")
                if any(fnmatch.fnmatch(p, i.rstrip("/")) or p.startswith(i.rstrip("/") + "/")
                       for i in ignores):
                    problems.append(f"{name}: COPY {s}: excluded by the .dockerignore")
        elif op == "RUN":
            for ref in re.findall(r"\b((?:scripts|deploy)/[\w./-]+)", rest):
                if not os.path.exists(os.path.join(src, ref)):
                    problems.append(f"{name}: RUN uses {ref}, which is not in the repository")
        if final is not None and op in final:
            final[op] = rest
    if final is None:
        problems.append(f"{name}: no FROM")
        continue
    user = (final["USER"] or "").split(":")[0]
    if not user.isdigit() or user == "0":
        problems.append(f"{name}: final stage USER {final['USER']!r}: want a numeric non-root uid "
                        "(Kubernetes runAsNonRoot can only verify numbers)")
    if not final["HEALTHCHECK"] or "CMD" not in final["HEALTHCHECK"]:
        problems.append(f"{name}: final stage has no HEALTHCHECK")
    try:
        entry = json.loads(final["ENTRYPOINT"] or "null")
    except ValueError:
        entry = None
    if not isinstance(entry, list) or entry[-1] != "pelican":
        problems.append(f"{name}: ENTRYPOINT must be an exec-form list ending in pelican")
    if "9400" not in final["EXPOSE"]:
        problems.append(f"{name}: metrics port 9400 not exposed")
for p in problems:
    print("FAIL", p)
print(f"{'ok  ' if not problems else 'FAIL'} Dockerfile checks ({len(files)} files)")
sys.exit(1 if problems else 0)
EOF

# runtime-packages.sh on a tiny program linking a library of its own: that library belongs to no
# package, so it must fail, unless its directory is allowed (as the CUDA image allows LibTorch's).
mkdir -p "$tmp/lib"
printf 'int foo(void) { return 1; }\n' >"$tmp/foo.c"
printf 'int foo(void);\nint main(void) { return foo() - 1; }\n' >"$tmp/main.c"
if cc -shared -fPIC -o "$tmp/lib/libfoo.so" "$tmp/foo.c" &&
   cc -o "$tmp/main" "$tmp/main.c" -L"$tmp/lib" -lfoo -Wl,-rpath,"$tmp/lib"; then
  bash "$dock/runtime-packages.sh" "$tmp/main" >"$tmp/pk" 2>"$tmp/pk.err"
  check "runtime-packages.sh fails on a library no package owns" test $? -ne 0
  check "and names it" grep -q "no package owns .*libfoo.so" "$tmp/pk.err"
  bash "$dock/runtime-packages.sh" "$tmp/main" "$tmp/lib" >"$tmp/pk" 2>"$tmp/pk.err"
  check "runtime-packages.sh allows a given prefix" test $? -eq 0
  check "and lists the C library's package" grep -qx libc6 "$tmp/pk"
else
  echo "FAIL cannot compile the runtime-packages.sh test program (cc)"; fail=1
fi
if [ -x "$pelican" ]; then
  bash "$dock/runtime-packages.sh" "$pelican" /usr/local/cuda "${lib_dirs[@]}" >"$tmp/pk" 2>"$tmp/pk.err"
  check "runtime-packages.sh on pelican (LibTorch's and CUDA's folders allowed)" test $? -eq 0
  cat "$tmp/pk.err"
  for p in libgrpc++ libprotobuf libyaml-cpp; do
    check "pelican needs $p" grep -q "^$p" "$tmp/pk"
  done
  # LibTorch comes from the torch wheel (the images copy its libraries), never a Debian package.
  check "pelican links the torch wheel's libtorch_cpu" bash -c \
    "ldd '$pelican' | grep -q 'site-packages/torch/lib/libtorch_cpu.so'"
  check "no Debian package provides pelican's LibTorch" bash -c "! grep -q '^libtorch' '$tmp/pk'"
  check "pelican does not link Debian's libgloo (LibTorch has its own)" bash -c \
    "! ldd '$pelican' | grep -q '/libgloo'"
else
  echo "note runtime-packages.sh not run on pelican: no binary given (built by CMake)"
fi

# The healthcheck: healthy against a process serving pelican_build_info, unhealthy otherwise.
"$py" "$src/deploy/prometheus/fake_exporter.py" "$tmp/run" >"$tmp/fake.log" 2>&1 &
srv=$!
for _ in $(seq 50); do [ -f "$tmp/run/prometheus_targets.json" ] && break; sleep 0.1; done
target=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["targets"][0])' "$tmp/run/prometheus_targets.json")
PELICAN_HEALTH_URL=http://$target/metrics sh "$dock/healthcheck.sh"
check "healthcheck: healthy while /metrics serves pelican_build_info" test $? -eq 0
PELICAN_METRICS_PORT=${target##*:} sh "$dock/healthcheck.sh"
check "healthcheck: PELICAN_METRICS_PORT picks the port" test $? -eq 0
PELICAN_HEALTH_URL=http://$target/nothing sh "$dock/healthcheck.sh" 2>/dev/null
check "healthcheck: unhealthy without pelican_build_info" test $? -ne 0
kill "$srv"; wait "$srv" 2>/dev/null; srv=""
PELICAN_HEALTH_URL=http://$target/metrics sh "$dock/healthcheck.sh" 2>/dev/null
check "healthcheck: unhealthy when nothing listens" test $? -ne 0
exit $fail
