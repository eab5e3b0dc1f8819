// Validates rendered manifests (kubectl kustomize output) offline, in three layers:
//   1. schema: every object against the Kubernetes OpenAPI schema of its kind (npm
//      kubernetes-models) or the prometheus-operator CRD schema (@kubernetes-models/
//      prometheus-operator); a kind with no schema fails;
//   2. unknown fields: the same objects as TypeScript literals of those models' types, so that a
//      misspelt or misplaced field (which the API server would drop or refuse) fails `tsc`;
//   3. pelican's own wiring: Service selectors, ConfigMap references, learner WORLD_SIZE against
//      replicas, the addresses actors dial, PodMonitor and HPA targets, the run label against the
//      run config, and object sizes `kubectl apply` can record.
//
//   node deploy/k8s/validate.mjs [--npm DIR] RENDERED.yaml...
// DIR holds node_modules with the packages of scripts/npm-packages.txt (default:
// third_party/npm of this checkout, installed by scripts/install-deps.sh).
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
let npmDir = path.resolve(here, "../../third_party/npm");
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--npm") npmDir = path.resolve(args[++i]);
  else files.push(args[i]);
}
if (!files.length) {
  console.error("usage: node deploy/k8s/validate.mjs [--npm DIR] RENDERED.yaml...");
  process.exit(2);
}
const modules = path.join(npmDir, "node_modules");
for (const pkg of ["kubernetes-models", "@kubernetes-models/prometheus-operator", "yaml", "typescript"]) {
  if (!fs.existsSync(path.join(modules, pkg, "package.json"))) {
    console.error(`FAIL npm package ${pkg} not in ${modules}: run scripts/install-deps.sh`);
    process.exit(1);
  }
}
const YAML = await import(pathToFileURL(path.join(modules, "yaml/dist/index.js")).href);

// apiVersion -> [package, directory inside it]. Kinds of other groups have no schema here, and
// fail unless listed in SKIP with the reason.
const GROUPS = {
  "v1": ["kubernetes-models", "v1"],
  "apps/v1": ["kubernetes-models", "apps/v1"],
  "autoscaling/v2": ["kubernetes-models", "autoscaling/v2"],
  "policy/v1": ["kubernetes-models", "policy/v1"],
  "networking.k8s.io/v1": ["kubernetes-models", "networking.k8s.io/v1"],
  "rbac.authorization.k8s.io/v1": ["kubernetes-models", "rbac.authorization.k8s.io/v1"],
  "batch/v1": ["kubernetes-models", "batch/v1"],
  "monitoring.coreos.com/v1": ["@kubernetes-models/prometheus-operator", "monitoring.coreos.com/v1"],
};
const SKIP = {};  // "group/version Kind": "why it cannot be validated"

let failures = 0;
const fail = (msg) => { failures++; console.log(`FAIL ${msg}`); };

const objects = [];
for (const file of files) {
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"));
  for (const doc of docs) {
    if (doc.errors.length) { fail(`${file}: ${doc.errors[0].message}`); continue; }
    const obj = doc.toJS();
    if (obj) objects.push({ file: path.basename(file), obj });
  }
}
const id = (o) => `${o.kind}/${o.metadata?.name}`;

// 1 and 2: schemas.
const typeChecks = [];
for (const { file, obj } of objects) {
  const key = `${obj.apiVersion} ${obj.kind}`;
  if (SKIP[key]) { console.log(`skip ${file}: ${id(obj)}: ${SKIP[key]}`); continue; }
  const group = GROUPS[obj.apiVersion];
  const modPath = group && path.join(modules, group[0], group[1], `${obj.kind}.js`);
  if (!modPath || !fs.existsSync(modPath)) {
    fail(`${file}: ${id(obj)}: no schema for ${key}`);
    continue;
  }
  const Model = (await import(pathToFileURL(modPath).href))[obj.kind];
  try {
    new Model(obj).validate();
  } catch (e) {
    const errs = (e.errors || []).map((x) => `${x.instancePath} ${x.message}`).join("; ");
    fail(`${file}: ${id(obj)}: ${errs || e.message}`);
  }
  typeChecks.push({ file, obj, spec: `${group[0]}/${group[1]}/${obj.kind}`, type: `I${obj.kind}` });
}

if (typeChecks.length) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pelican-k8s-"));
  try {
    fs.symlinkSync(modules, path.join(dir, "node_modules"));
    const lines = [];
    typeChecks.forEach((t, i) => {
      lines.push(`import type { ${t.type} as T${i} } from "${t.spec}";`);
      lines.push(`// ${t.file}: ${id(t.obj)}`);
      lines.push(`export const o${i}: T${i} = ${JSON.stringify(t.obj)};`);
    });
    fs.writeFileSync(path.join(dir, "check.mts"), lines.join("\n") + "\n");
    const tsc = spawnSync(process.execPath, [
      path.join(modules, "typescript/bin/tsc"), "--noEmit", "--strict", "--skipLibCheck",
      "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022",
      path.join(dir, "check.mts")], { encoding: "utf8" });
    if (tsc.status !== 0) {
      const out = (tsc.stdout + tsc.stderr).trim().split("\n");
      for (const line of out) {
        const m = line.match(/check\.mts\((\d+),\d+\): (.*)/);
        if (m) {
          const decl = lines[Number(m[1]) - 1].match(/^export const o(\d+)/);
          const t = decl ? typeChecks[Number(decl[1])] : null;
          fail(`${t ? `${t.file}: ${id(t.obj)}` : "tsc"}: ${m[2]}`);
        } else if (line.trim()) {
          fail(`tsc: ${line}`);
        }
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// 3: pelican's wiring, per rendered file (one overlay each).
for (const file of new Set(objects.map((o) => o.file))) {
  const objs = objects.filter((o) => o.file === file).map((o) => o.obj);
  const byKind = (k) => objs.filter((o) => o.kind === k);
  const workloads = objs.filter((o) => ["Deployment", "StatefulSet"].includes(o.kind));
  const podLabels = (w) => w.spec.template.metadata?.labels || {};
  const matches = (sel, labels) => Object.entries(sel || {}).every(([k, v]) => labels[k] === v);
  const where = (o) => `${file}: ${id(o)}`;

  const names = new Set();
  for (const o of objs) {
    const key = `${o.kind}/${o.metadata?.namespace || ""}/${o.metadata?.name}`;
    if (names.has(key)) fail(`${where(o)}: defined twice`);
    names.add(key);
  }
  for (const o of objs) {
    // Client-side `kubectl apply` stores the object in an annotation limited to 256 KiB.
    if (Buffer.byteLength(JSON.stringify(o)) > 250000) fail(`${where(o)}: too big for kubectl apply`);
  }
  if (!workloads.length) continue;  // not an overlay (e.g. a Secret on its own)
  for (const svc of byKind("Service")) {
    if (!workloads.some((w) => matches(svc.spec.selector, podLabels(w)))) {
      fail(`${where(svc)}: selector ${JSON.stringify(svc.spec.selector)} matches no pod template`);
    }
  }
  const configMaps = new Set(byKind("ConfigMap").map((c) => c.metadata.name));
  let runName = null;
  for (const cm of byKind("ConfigMap")) {
    if (cm.data?.["run.yaml"]) runName = YAML.parse(cm.data["run.yaml"])?.run?.name ?? "pelican";
  }
  for (const w of workloads) {
    const pod = w.spec.template.spec;
    for (const v of pod.volumes || []) {
      if (v.configMap && !configMaps.has(v.configMap.name)) {
        fail(`${where(w)}: volume ${v.name} uses ConfigMap ${v.configMap.name}, which is not rendered`);
      }
      if (v.secret) console.log(`note ${where(w)}: needs Secret ${v.secret.secretName} (created by the user)`);
      if (v.persistentVolumeClaim) {
        console.log(`note ${where(w)}: needs PVC ${v.persistentVolumeClaim.claimName} (created by the user)`);
      }
    }
    const labels = podLabels(w);
    if (labels["app.kubernetes.io/part-of"] !== "pelican") fail(`${where(w)}: pods lack app.kubernetes.io/part-of=pelican`);
    if (!["learner", "reward", "actor"].includes(labels["app.kubernetes.io/component"])) {
      fail(`${where(w)}: pods lack app.kubernetes.io/component=learner|reward|actor (the role label)`);
    }
    if (runName !== null && labels["pelican.dev/run"] !== runName) {
      fail(`${where(w)}: pod label pelican.dev/run=${labels["pelican.dev/run"]} but run.name is ${runName}`);
    }
    for (const c of pod.containers) {
      const ports = new Set((c.ports || []).map((p) => p.name));
      if (!ports.has("metrics")) fail(`${where(w)}: container ${c.name} has no port named metrics`);
      for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
        const p = c[probe];
        const port = p?.httpGet?.port ?? p?.tcpSocket?.port;
        if (typeof port === "string" && !ports.has(port)) fail(`${where(w)}: ${probe} uses unknown port ${port}`);
      }
    }
    const volumes = new Set((pod.volumes || []).map((v) => v.name));
    for (const vct of w.spec.volumeClaimTemplates || []) volumes.add(vct.metadata.name);
    for (const c of [...pod.containers, ...(pod.initContainers || [])]) {
      for (const m of c.volumeMounts || []) {
        if (!volumes.has(m.name)) fail(`${where(w)}: container ${c.name} mounts unknown volume ${m.name}`);
      }
    }
  }
  // The learner: ranks, rendezvous and the address actors dial.
  const learner = byKind("StatefulSet").find((s) => s.metadata.name === "pelican-learner");
  const actor = byKind("Deployment").find((d) => d.metadata.name === "pelican-actor");
  if (!learner || !actor || !byKind("Deployment").some((d) => d.metadata.name === "pelican-reward")) {
    fail(`${file}: missing pelican-learner, pelican-reward or pelican-actor`);
  } else {
    const c = learner.spec.template.spec.containers[0];
    const env = Object.fromEntries((c.env || []).map((e) => [e.name, e.value]));
    const svcName = learner.spec.serviceName;
    const svc = byKind("Service").find((s) => s.metadata.name === svcName);
    if (String(learner.spec.replicas ?? 1) !== env.WORLD_SIZE) {
      fail(`${where(learner)}: WORLD_SIZE=${env.WORLD_SIZE} but replicas=${learner.spec.replicas}`);
    }
    if (!svc || svc.spec.clusterIP !== "None") fail(`${where(learner)}: serviceName ${svcName} is not a headless Service`);
    if (env.MASTER_ADDR !== `${learner.metadata.name}-0.${svcName}`) {
      fail(`${where(learner)}: MASTER_ADDR=${env.MASTER_ADDR}, rank 0 is ${learner.metadata.name}-0.${svcName}`);
    }
    const a = actor.spec.template.spec.containers[0].args || [];
    const flag = (f) => a[a.indexOf(f) + 1];
    const grpcPort = (c.ports || []).find((p) => p.name === "grpc")?.containerPort;
    if (a.indexOf("--learner") < 0 || flag("--learner") !== `${learner.metadata.name}-0.${svcName}:${grpcPort}`) {
      fail(`${where(actor)}: --learner ${flag("--learner")} is not rank 0's LearnerService`);
    }
    const m = /^dns:\/\/\/([^:]+):(\d+)$/.exec(flag("--reward") || "");
    const rsvc = m && byKind("Service").find((s) => s.metadata.name === m[1]);
    if (!rsvc || rsvc.spec.clusterIP !== "None" || !rsvc.spec.ports.some((p) => String(p.port) === m[2])) {
      fail(`${where(actor)}: --reward ${flag("--reward")} is not dns:/// of a headless Service port`);
    }
  }
  for (const pm of byKind("PodMonitor")) {
    const sel = pm.spec.selector?.matchLabels;
    const hit = workloads.filter((w) => matches(sel, podLabels(w)));
    if (hit.length !== workloads.length) fail(`${where(pm)}: does not select every pelican workload`);
    for (const ep of pm.spec.podMetricsEndpoints || []) {
      for (const w of hit) {
        if (!w.spec.template.spec.containers.some((c) => (c.ports || []).some((p) => p.name === ep.port))) {
          fail(`${where(pm)}: ${id(w)} has no port ${ep.port}`);
        }
      }
    }
  }
  for (const hpa of byKind("HorizontalPodAutoscaler")) {
    const t = hpa.spec.scaleTargetRef;
    if (!objs.some((o) => o.kind === t.kind && o.metadata.name === t.name)) {
      fail(`${where(hpa)}: scales ${t.kind}/${t.name}, which is not rendered`);
    }
  }
}

console.log(`${objects.length} objects in ${files.length} files: ${failures ? `FAIL (${failures})` : "ok"}`);
process.exit(failures ? 1 : 0);
