#!/usr/bin/env python3
"""Validates rendered manifests (kubectl kustomize output) offline, in two layers:

  1. schema: every object against the Kubernetes OpenAPI schema of its kind (PyPI
     kubernetes-validate, strict: a misspelt or misplaced field, which the API server would drop
     or refuse, fails) or against the openAPIV3Schema of the prometheus-operator CRD
     (../shared/k8s-crds, or --crds DIR), with every object schema closed so that unknown fields
     fail there too; a kind with no schema fails;
  2. pelican's own wiring: Service selectors, ConfigMap references, learner WORLD_SIZE against
     replicas, the addresses actors dial, PodMonitor and HPA targets, the run label against the
     run config, and object sizes `kubectl apply` can record.

  python deploy/k8s/validate.py [--crds DIR] [--k8s-version X.Y.Z] RENDERED.yaml...

Needs PyYAML, jsonschema and kubernetes-validate (all in scripts/requirements.lock, so the
checkout's .venv/bin/python has them).
"""
import argparse
import copy
import glob
import json
import os
import re
import sys

try:
    import jsonschema
    import kubernetes_validate
    import yaml
except ImportError as e:
    print(f"FAIL {e.name} is not installed: run scripts/install-deps.sh and use .venv/bin/python")
    sys.exit(1)

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CRDS = os.path.normpath(os.path.join(HERE, "../../../shared/k8s-crds"))
# The Kubernetes release the manifests target (kubernetes-validate ships the schemas of each).
DEFAULT_K8S_VERSION = "1.30.0"


class Checker:
    def __init__(self):
        self.failures = 0

    def fail(self, msg):
        self.failures += 1
        print(f"FAIL {msg}")


def close_objects(schema):
    """Returns the schema with additionalProperties: false on every object that lists its
    properties and neither allows extra ones nor preserves unknown fields, as the API server
    prunes (and `kubectl apply --validate=strict` refuses) fields a CRD does not name."""
    if isinstance(schema, dict):
        out = {k: close_objects(v) for k, v in schema.items()}
        if ("properties" in out and "additionalProperties" not in out
                and not out.get("x-kubernetes-preserve-unknown-fields")):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [close_objects(v) for v in schema]
    return schema


def load_crds(folder):
    """(apiVersion, kind) -> a JSON-schema validator from each CRD's openAPIV3Schema."""
    validators = {}
    for path in sorted(glob.glob(os.path.join(folder, "*.yaml"))):
        with open(path) as f:
            for crd in yaml.safe_load_all(f):
                if not crd or crd.get("kind") != "CustomResourceDefinition":
                    continue
                group = crd["spec"]["group"]
                kind = crd["spec"]["names"]["kind"]
                for version in crd["spec"]["versions"]:
                    schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])
                    # metadata is checked by the API server's own ObjectMeta schema, not the CRD's.
                    schema.setdefault("properties", {})["metadata"] = {"type": "object"}
                    schema = close_objects(schema)
                    validators[(f"{group}/{version['name']}", kind)] = jsonschema.Draft7Validator(schema)
    return validators


def obj_id(o):
    return f"{o.get('kind')}/{(o.get('metadata') or {}).get('name')}"


def check_schemas(c, objects, crds, k8s_version):
    for file, o in objects:
        key = (o.get("apiVersion"), o.get("kind"))
        where = f"{file}: {obj_id(o)}"
        if key in crds:
            errors = sorted(crds[key].iter_errors(o), key=lambda e: list(e.absolute_path))
            for e in errors:
                c.fail(f"{where}: /{'/'.join(map(str, e.absolute_path))}: {e.message}")
            continue
        try:
            kubernetes_validate.validate(o, k8s_version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            c.fail(f"{where}: no schema for {key[0]} {key[1]}")
        except kubernetes_validate.ValidationError as e:
            c.fail(f"{where}: /{'/'.join(map(str, e.path))}: {e.message}")
        except Exception as e:  # noqa: BLE001 - e.g. a Kubernetes version it has no schemas for
            c.fail(f"{where}: {type(e).__name__}: {e}")


def matches(selector, labels):
    return all(labels.get(k) == v for k, v in (selector or {}).items())


def check_wiring(c, file, objs):
    def by_kind(k):
        return [o for o in objs if o.get("kind") == k]

    def where(o):
        return f"{file}: {obj_id(o)}"

    def pod_labels(w):
        return (w["spec"]["template"].get("metadata") or {}).get("labels") or {}

    workloads = [o for o in objs if o.get("kind") in ("Deployment", "StatefulSet")]
    names = set()
    for o in objs:
        key = (o.get("kind"), (o.get("metadata") or {}).get("namespace", ""), obj_id(o))
        if key in names:
            c.fail(f"{where(o)}: defined twice")
        names.add(key)
        # Client-side `kubectl apply` stores the object in an annotation limited to 256 KiB.
        if len(json.dumps(o).encode()) > 250000:
            c.fail(f"{where(o)}: too big for kubectl apply")
    if not workloads:
        return  # not an overlay (e.g. a Secret on its own)
    for svc in by_kind("Service"):
        if not any(matches(svc["spec"].get("selector"), pod_labels(w)) for w in workloads):
            c.fail(f"{where(svc)}: selector {json.dumps(svc['spec'].get('selector'))} matches no pod template")
    config_maps = {cm["metadata"]["name"] for cm in by_kind("ConfigMap")}
    run_name = None
    for cm in by_kind("ConfigMap"):
        if (cm.get("data") or {}).get("run.yaml"):
            run = (yaml.safe_load(cm["data"]["run.yaml"]) or {}).get("run") or {}
            run_name = run.get("name", "pelican")
    for w in workloads:
        pod = w["spec"]["template"]["spec"]
        for v in pod.get("volumes") or []:
            if "configMap" in v and v["configMap"]["name"] not in config_maps:
                c.fail(f"{where(w)}: volume {v['name']} uses ConfigMap {v['configMap']['name']}, which is not rendered")
            if "secret" in v:
                print(f"note {where(w)}: needs Secret {v['secret']['secretName']} (created by the user)")
            if "persistentVolumeClaim" in v:
                print(f"note {where(w)}: needs PVC {v['persistentVolumeClaim']['claimName']} (created by the user)")
        labels = pod_labels(w)
        if labels.get("app.kubernetes.io/part-of") != "pelican":
            c.fail(f"{where(w)}: pods lack app.kubernetes.io/part-of=pelican")
        if labels.get("app.kubernetes.io/component") not in ("learner", "reward", "actor"):
            c.fail(f"{where(w)}: pods lack app.kubernetes.io/component=learner|reward|actor (the role label)")
        if run_name is not None and labels.get("pelican.dev/run") != run_name:
            c.fail(f"{where(w)}: pod label pelican.dev/run={labels.get('pelican.dev/run')} but run.name is {run_name}")
        for ct in pod["containers"]:
            ports = {p.get("name") for p in ct.get("ports") or []}
            if "metrics" not in ports:
                c.fail(f"{where(w)}: container {ct['name']} has no port named metrics")
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                p = ct.get(probe) or {}
                port = (p.get("httpGet") or p.get("tcpSocket") or {}).get("port")
                if isinstance(port, str) and port not in ports:
                    c.fail(f"{where(w)}: {probe} uses unknown port {port}")
        volumes = {v["name"] for v in pod.get("volumes") or []}
        volumes |= {t["metadata"]["name"] for t in w["spec"].get("volumeClaimTemplates") or []}
        for ct in pod["containers"] + (pod.get("initContainers") or []):
            for m in ct.get("volumeMounts") or []:
                if m["name"] not in volumes:
                    c.fail(f"{where(w)}: container {ct['name']} mounts unknown volume {m['name']}")

    # The learner: ranks, rendezvous and the address actors dial.
    learner = next((s for s in by_kind("StatefulSet") if s["metadata"]["name"] == "pelican-learner"), None)
    actor = next((d for d in by_kind("Deployment") if d["metadata"]["name"] == "pelican-actor"), None)
    reward = next((d for d in by_kind("Deployment") if d["metadata"]["name"] == "pelican-reward"), None)
    if not (learner and actor and reward):
        c.fail(f"{file}: missing pelican-learner, pelican-reward or pelican-actor")
    else:
        ct = learner["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e.get("value") for e in ct.get("env") or []}
        svc_name = learner["spec"].get("serviceName")
        svc = next((s for s in by_kind("Service") if s["metadata"]["name"] == svc_name), None)
        if str(learner["spec"].get("replicas", 1)) != env.get("WORLD_SIZE"):
            c.fail(f"{where(learner)}: WORLD_SIZE={env.get('WORLD_SIZE')} but replicas={learner['spec'].get('replicas')}")
        if not svc or svc["spec"].get("clusterIP") != "None":
            c.fail(f"{where(learner)}: serviceName {svc_name} is not a headless Service")
        rank0 = f"{learner['metadata']['name']}-0.{svc_name}"
        if env.get("MASTER_ADDR") != rank0:
            c.fail(f"{where(learner)}: MASTER_ADDR={env.get('MASTER_ADDR')}, rank 0 is {rank0}")
        args = actor["spec"]["template"]["spec"]["containers"][0].get("args") or []

        def flag(f):
            return args[args.index(f) + 1] if f in args and args.index(f) + 1 < len(args) else None

        grpc_port = next((p["containerPort"] for p in ct.get("ports") or [] if p.get("name") == "grpc"), None)
        if flag("--learner") != f"{rank0}:{grpc_port}":
            c.fail(f"{where(actor)}: --learner {flag('--learner')} is not rank 0's LearnerService")
        m = re.fullmatch(r"dns:///([^:]+):(\d+)", flag("--reward") or "")
        rsvc = m and next((s for s in by_kind("Service") if s["metadata"]["name"] == m.group(1)), None)
        if not rsvc or rsvc["spec"].get("clusterIP") != "None" or \
                not any(str(p["port"]) == m.group(2) for p in rsvc["spec"].get("ports") or []):
            c.fail(f"{where(actor)}: --reward {flag('--reward')} is not dns:/// of a headless Service port")
    for pm in by_kind("PodMonitor"):
        sel = (pm["spec"].get("selector") or {}).get("matchLabels")
        hit = [w for w in workloads if matches(sel, pod_labels(w))]
        if len(hit) != len(workloads):
            c.fail(f"{where(pm)}: does not select every pelican workload")
        for ep in pm["spec"].get("podMetricsEndpoints") or []:
            for w in hit:
                if not any(p.get("name") == ep.get("port")
                           for ct in w["spec"]["template"]["spec"]["containers"] for p in ct.get("ports") or []):
                    c.fail(f"{where(pm)}: {obj_id(w)} has no port {ep.get('port')}")
    for hpa in by_kind("HorizontalPodAutoscaler"):
        t = hpa["spec"]["scaleTargetRef"]
        if not any(o.get("kind") == t["kind"] and o["metadata"]["name"] == t["name"] for o in objs):
            c.fail(f"{where(hpa)}: scales {t['kind']}/{t['name']}, which is not rendered")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--crds", default=DEFAULT_CRDS, help="folder of CustomResourceDefinition YAML")
    ap.add_argument("--k8s-version", default=DEFAULT_K8S_VERSION)
    ap.add_argument("files", nargs="+", metavar="RENDERED.yaml")
    a = ap.parse_args()
    c = Checker()
    if not os.path.isdir(a.crds):
        print(f"FAIL CRD folder {a.crds} does not exist (give --crds)")
        return 1
    crds = load_crds(a.crds)
    if not crds:
        c.fail(f"no CustomResourceDefinition in {a.crds}")
    objects = []
    for path in a.files:
        try:
            with open(path) as f:
                docs = [d for d in yaml.safe_load_all(f) if d]
        except (OSError, yaml.YAMLError) as e:
            c.fail(f"{path}: {e}")
            continue
        objects += [(os.path.basename(path), d) for d in docs]
    check_schemas(c, objects, crds, a.k8s_version)
    for file in dict.fromkeys(f for f, _ in objects):
        check_wiring(c, file, [o for f, o in objects if f == file])
    print(f"{len(objects)} objects in {len(a.files)} files: {f'FAIL ({c.failures})' if c.failures else 'ok'}")
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
