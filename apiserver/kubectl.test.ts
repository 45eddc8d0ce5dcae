// The real kubectl 1.32 (/usr/bin/kubectl) against the API server on a real etcd 3.4, through a
// generated kubeconfig: the everyday commands a user types, checked on their output and on what
// the server then holds.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempDir, type TempDir } from '../common/temp-dir.js';
import { writeKubeconfig } from './kubeconfig.js';
import { startTestServer, http, type TestServer } from './test-server.js';

const KUBECTL = '/usr/bin/kubectl';
let s: TestServer;
let dir: TempDir;
let env: NodeJS.ProcessEnv;

before(async () => {
  s = await startTestServer();
  dir = await makeTempDir('keelson-kubectl-');
  await mkdir(join(dir.path, 'home'));
  const kubeconfig = join(dir.path, 'kubeconfig');
  await writeKubeconfig(kubeconfig, { server: s.url });
  // A private HOME and cache: no discovery cache or config from anywhere else.
  env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: join(dir.path, 'home'), KUBECONFIG: kubeconfig, KUBECACHEDIR: join(dir.path, 'cache') };
});
after(async () => {
  await s?.stop();
  await dir?.cleanup();
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function kubectl(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(KUBECTL, args, { env, timeout: 30_000, maxBuffer: 8 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

async function ok(...args: string[]): Promise<string> {
  const r = await kubectl(...args);
  assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

async function file(name: string, text: string): Promise<string> {
  const p = join(dir.path, name);
  await writeFile(p, text);
  return p;
}

const deploymentYaml = (image: string, replicas = 2) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: ${replicas}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: ${image}
        ports:
        - containerPort: 80
      - name: sidecar
        image: busybox:1.36
        command: ["sleep", "3600"]
`;

test('kubectl is installed', () => {
  assert.ok(existsSync(KUBECTL), 'kubectl 1.32 at /usr/bin/kubectl');
});

test('version and api-resources', async () => {
  const v = await ok('version', '-o', 'json');
  const parsed = JSON.parse(v) as { serverVersion: { major: string; minor: string } };
  assert.equal(parsed.serverVersion.major, '1');
  assert.equal(parsed.serverVersion.minor, '32');
  const res = await ok('api-resources');
  const lines = res.trim().split('\n');
  assert.match(lines[0]!, /^NAME\s+SHORTNAMES\s+APIVERSION\s+NAMESPACED\s+KIND$/);
  for (const want of [/^pods\s+po\s+v1\s+true\s+Pod$/, /^deployments\s+deploy\s+apps\/v1\s+true\s+Deployment$/, /^namespaces\s+ns\s+v1\s+false\s+Namespace$/, /^leases\s+coordination.k8s.io\/v1\s+true\s+Lease$/]) {
    assert.ok(lines.some((l) => want.test(l)), `api-resources lacks ${want}`);
  }
  const ns = await ok('api-resources', '--namespaced=false', '-o', 'name');
  assert.ok(ns.split('\n').includes('nodes'));
});

test('namespaces: create, list, delete --wait', async () => {
  await ok('create', 'namespace', 'team-a');
  await ok('apply', '-f', await file('ns.yaml', 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-b\n'));
  const out = await ok('get', 'ns');
  assert.match(out, /^NAME\s+STATUS\s+AGE/);
  assert.match(out, /\nteam-a\s+Active\s+\d+s/);
  assert.match(out, /\nteam-b\s+Active/);
  await ok('-n', 'team-b', 'create', 'configmap', 'c1', '--from-literal=a=b');
  const del = await ok('delete', 'namespace', 'team-b', '--wait=true', '--timeout=20s');
  assert.match(del, /namespace "team-b" deleted/);
  const gone = await kubectl('get', 'ns', 'team-b');
  assert.notEqual(gone.code, 0);
  assert.match(gone.stderr, /Error from server \(NotFound\): namespaces "team-b" not found/);
});

test('apply: created, unchanged, configured (strategic merge of containers by name)', async () => {
  const f = await file('deploy.yaml', deploymentYaml('nginx:1.25'));
  assert.match(await ok('apply', '-f', f), /deployment.apps\/web created/);
  assert.match(await ok('apply', '-f', f), /deployment.apps\/web unchanged/);
  // A field the manifest does not own (env of the sidecar, set live) survives the next apply,
  // which changes only the nginx container: containers merge by name, not as a whole list.
  await ok('set', 'env', 'deployment/web', '-c', 'sidecar', 'LIVE=yes');
  await file('deploy.yaml', deploymentYaml('nginx:1.26'));
  assert.match(await ok('apply', '-f', f), /deployment.apps\/web configured/);
  const images = await ok('get', 'deploy', 'web', '-o', 'jsonpath={range .spec.template.spec.containers[*]}{.name}={.image} {end}');
  assert.equal(images.trim(), 'nginx=nginx:1.26 sidecar=busybox:1.36');
  assert.equal(await ok('get', 'deploy', 'web', '-o', 'jsonpath={.spec.template.spec.containers[1].env[0].name}={.spec.template.spec.containers[1].env[0].value}'), 'LIVE=yes');
  assert.equal(await ok('get', 'deploy', 'web', '-o', 'jsonpath={.metadata.generation}'), '3');
  // Removing a container from the manifest removes it from the object.
  await file('deploy.yaml', deploymentYaml('nginx:1.26').replace(/      - name: sidecar[\s\S]*$/, ''));
  assert.match(await ok('apply', '-f', f), /configured/);
  assert.equal(await ok('get', 'deploy', 'web', '-o', 'jsonpath={.spec.template.spec.containers[*].name}'), 'nginx');
});

test('create from generators (protobuf bodies): deployment, job, cronjob, service, secret, serviceaccount', async () => {
  await ok('create', 'deployment', 'gen', '--image=nginx:1.25', '--replicas=3', '--port=80');
  assert.equal(await ok('get', 'deploy', 'gen', '-o', 'jsonpath={.spec.replicas} {.spec.selector.matchLabels.app} {.spec.template.spec.containers[0].ports[0].containerPort}'), '3 gen 80');
  await ok('create', 'job', 'once', '--image=busybox', '--', 'echo', 'hi');
  assert.equal(await ok('get', 'job', 'once', '-o', 'jsonpath={.spec.template.spec.restartPolicy} {.spec.template.spec.containers[0].command}'), 'Never ["echo","hi"]');
  await ok('create', 'cronjob', 'tick', '--image=busybox', '--schedule=*/5 * * * *', '--', 'date');
  assert.match(await ok('get', 'cronjob', 'tick'), /tick\s+\*\/5 \* \* \* \*\s+<none>\s+False\s+0\s+<none>/);
  await ok('create', 'service', 'clusterip', 'front', '--tcp=80:8080');
  assert.match(await ok('get', 'svc', 'front'), /front\s+ClusterIP\s+127\.100\.\d+\.\d+\s+<none>\s+80\/TCP/);
  await ok('create', 'secret', 'generic', 'creds', '--from-literal=pw=hunter2');
  assert.equal(Buffer.from(await ok('get', 'secret', 'creds', '-o', 'jsonpath={.data.pw}'), 'base64').toString(), 'hunter2');
  await ok('create', 'serviceaccount', 'robot');
  assert.match(await ok('get', 'sa', 'robot'), /robot\s+0\s+/);
});

test('diff (server-side dry run) shows a change without making it', async () => {
  const f = await file('diff.yaml', deploymentYaml('nginx:1.25', 1).replace('name: web', 'name: diffed'));
  await ok('apply', '-f', f);
  const rv = await ok('get', 'deploy', 'diffed', '-o', 'jsonpath={.metadata.resourceVersion}');
  await file('diff.yaml', deploymentYaml('nginx:1.27', 1).replace('name: web', 'name: diffed'));
  const d = await kubectl('diff', '-f', f);
  assert.equal(d.code, 1, `diff exits 1 when there are differences:\n${d.stderr}`);
  assert.match(d.stdout, /^-\s+- image: nginx:1.25$/m);
  assert.match(d.stdout, /^\+\s+- image: nginx:1.27$/m);
  assert.equal(await ok('get', 'deploy', 'diffed', '-o', 'jsonpath={.spec.template.spec.containers[0].image} {.metadata.resourceVersion}'), `nginx:1.25 ${rv}`);
});

test('get: table, wide, yaml, json, jsonpath, name, -l, --field-selector', async () => {
  await ok('run', 'g1', '--image=nginx', '--labels=tier=front');
  await ok('run', 'g2', '--image=nginx', '--labels=tier=back');
  const table = await ok('get', 'pods', '-l', 'tier');
  assert.match(table, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\n/);
  assert.match(table, /\ng1\s+0\/1\s+Pending\s+0\s+\d+s/);
  const wide = await ok('get', 'pods', 'g1', '-o', 'wide');
  assert.match(wide, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES\n/);
  const yaml = await ok('get', 'pod', 'g1', '-o', 'yaml');
  assert.match(yaml, /^apiVersion: v1\nkind: Pod\n/);
  assert.match(yaml, /restartPolicy: Always/);
  const json = JSON.parse(await ok('get', 'pod', 'g1', '-o', 'json')) as { metadata: { labels: Record<string, string> } };
  assert.equal(json.metadata.labels['tier'], 'front');
  assert.equal(await ok('get', 'pods', '-l', 'tier=back', '-o', 'name'), 'pod/g2\n');
  assert.equal(await ok('get', 'pods', '-l', 'tier in (front,back)', '-o', 'jsonpath={.items[*].metadata.name}'), 'g1 g2');
  assert.equal(await ok('get', 'pods', '--field-selector', 'metadata.name=g2,status.phase=Pending', '-o', 'name'), 'pod/g2\n');
  const none = await ok('get', 'pods', '-l', 'tier=nothing');
  assert.equal(none, '');
  const all = await ok('get', 'deploy,pods', '-A', '-o', 'name');
  assert.ok(all.includes('deployment.apps/web') && all.includes('pod/g1'));
});

test('get -w: prints changes as they happen', async () => {
  await ok('create', 'configmap', 'watched', '--from-literal=a=1');
  const child = spawn(KUBECTL, ['get', 'configmaps', 'watched', '-w', '--request-timeout=20s'], { env });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const until = async (cond: () => boolean, what: string): Promise<void> => {
    const deadline = Date.now() + 15_000;
    while (!cond()) {
      assert.ok(Date.now() < deadline, `timed out waiting for ${what}; output so far:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  try {
    await until(() => /watched\s+1\s+/.test(out), 'the initial row');
    await ok('patch', 'configmap', 'watched', '-p', '{"data":{"b":"2"}}');
    await until(() => /watched\s+2\s+/.test(out), 'the modified row');
    await ok('delete', 'configmap', 'watched');
    await until(() => out.trim().split('\n').length >= 4, 'the deletion row');
    assert.match(out, /^NAME\s+DATA\s+AGE\n/);
  } finally {
    child.kill();
  }
});

test('label, annotate, scale', async () => {
  await ok('run', 'la', '--image=nginx');
  assert.match(await ok('label', 'pod', 'la', 'env=prod'), /pod\/la labeled/);
  const conflict = await kubectl('label', 'pod', 'la', 'env=dev');
  assert.notEqual(conflict.code, 0);
  assert.match(conflict.stderr, /already has a value \(prod\)/);
  await ok('label', 'pod', 'la', 'env=dev', '--overwrite');
  assert.match(await ok('annotate', 'pod', 'la', 'note=hello'), /pod\/la annotated/);
  assert.equal(await ok('get', 'pod', 'la', '-o', 'jsonpath={.metadata.labels.env}/{.metadata.annotations.note}'), 'dev/hello');
  await ok('label', 'pod', 'la', 'env-');
  assert.equal(await ok('get', 'pod', 'la', '-o', 'jsonpath={.metadata.labels.env}'), '');
  await ok('apply', '-f', await file('scale.yaml', deploymentYaml('nginx:1.25', 1).replace('name: web', 'name: scaled')));
  assert.match(await ok('scale', 'deployment', 'scaled', '--replicas=4'), /deployment.apps\/scaled scaled/);
  assert.equal(await ok('get', 'deploy', 'scaled', '-o', 'jsonpath={.spec.replicas}'), '4');
  const cond = await kubectl('scale', 'deployment', 'scaled', '--replicas=1', '--current-replicas=3');
  assert.notEqual(cond.code, 0, 'a failed precondition is an error');
  assert.equal(await ok('get', 'deploy', 'scaled', '-o', 'jsonpath={.spec.replicas}'), '4');
});

test('patch: strategic (default), merge and json', async () => {
  await ok('run', 'pt', '--image=nginx:1.25');
  assert.match(await ok('patch', 'pod', 'pt', '-p', '{"spec":{"containers":[{"name":"pt","image":"nginx:1.26"}]}}'), /pod\/pt patched/);
  assert.equal(await ok('get', 'pod', 'pt', '-o', 'jsonpath={.spec.containers[0].image}'), 'nginx:1.26');
  await ok('patch', 'pod', 'pt', '--type=merge', '-p', '{"metadata":{"labels":{"m":"1"}}}');
  await ok('patch', 'pod', 'pt', '--type=json', '-p', '[{"op":"add","path":"/metadata/labels/j","value":"2"}]');
  assert.equal(await ok('get', 'pod', 'pt', '-o', 'jsonpath={.metadata.labels.m}{.metadata.labels.j}'), '12');
  const noop = await ok('patch', 'pod', 'pt', '--type=merge', '-p', '{"metadata":{"labels":{"m":"1"}}}');
  assert.match(noop, /pod\/pt patched \(no change\)/);
  const bad = await kubectl('patch', 'pod', 'pt', '--type=json', '-p', '[{"op":"remove","path":"/nope"}]');
  assert.notEqual(bad.code, 0);
});

test('replace with a stale resourceVersion is a Conflict', async () => {
  await ok('create', 'configmap', 'rep', '--from-literal=a=1');
  const json = await ok('get', 'configmap', 'rep', '-o', 'json');
  await ok('label', 'configmap', 'rep', 'changed=yes');
  const f = await file('rep.json', json.replace('"a": "1"', '"a": "2"'));
  const r = await kubectl('replace', '-f', f);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /Error from server \(Conflict\): error when replacing ".*rep.json": Operation cannot be fulfilled on configmaps "rep": the object has been modified; please apply your changes to the latest version and try again/);
  const fresh = JSON.parse(await ok('get', 'configmap', 'rep', '-o', 'json')) as { data: Record<string, string> };
  fresh.data['a'] = '3';
  await ok('replace', '-f', await file('rep2.json', JSON.stringify(fresh)));
  assert.equal(await ok('get', 'configmap', 'rep', '-o', 'jsonpath={.data.a}'), '3');
});

test('describe shows the object and its events', async () => {
  await ok('run', 'desc', '--image=nginx', '--labels=app=desc');
  const pod = JSON.parse(await ok('get', 'pod', 'desc', '-o', 'json')) as { metadata: { uid: string } };
  const ev = await http(s.url, 'POST', '/api/v1/namespaces/default/events', {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: 'desc.1' },
    involvedObject: { apiVersion: 'v1', kind: 'Pod', name: 'desc', namespace: 'default', uid: pod.metadata.uid },
    reason: 'Scheduled',
    message: 'Successfully assigned default/desc to n1',
    type: 'Normal',
    source: { component: 'default-scheduler' },
    count: 1,
    firstTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    lastTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  });
  assert.equal(ev.status, 201, ev.text);
  const out = await ok('describe', 'pod', 'desc');
  assert.match(out, /^Name:\s+desc$/m);
  assert.match(out, /^Namespace:\s+default$/m);
  assert.match(out, /^Labels:\s+app=desc$/m);
  assert.match(out, /^Status:\s+Pending$/m);
  assert.match(out, /Normal\s+Scheduled\s+\S+\s+default-scheduler\s+Successfully assigned default\/desc to n1/);
  const d = await ok('describe', 'deployment', 'web');
  assert.match(d, /^Replicas:\s+2 desired/m);
  assert.match(d, /StrategyType:\s+RollingUpdate/);
  const evs = await ok('get', 'events', '--field-selector', 'involvedObject.name=desc');
  assert.match(evs, /^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE\n/);
  assert.match(evs, /Normal\s+Scheduled\s+pod\/desc\s+Successfully assigned/);
});

test('delete --wait removes pods and deployments', async () => {
  await ok('run', 'del', '--image=nginx');
  assert.match(await ok('delete', 'pod', 'del', '--wait=true', '--timeout=20s'), /pod "del" deleted/);
  assert.notEqual((await kubectl('get', 'pod', 'del')).code, 0);
  await ok('apply', '-f', await file('del.yaml', deploymentYaml('nginx', 1).replace('name: web', 'name: gone')));
  assert.match(await ok('delete', '-f', join(dir.path, 'del.yaml'), '--wait=true'), /deployment.apps "gone" deleted/);
  const missing = await kubectl('delete', 'pod', 'never-was');
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /Error from server \(NotFound\): pods "never-was" not found/);
});

test('errors: NotFound, AlreadyExists, Invalid', async () => {
  const nf = await kubectl('get', 'deployment', 'nope');
  assert.notEqual(nf.code, 0);
  assert.match(nf.stderr, /Error from server \(NotFound\): deployments.apps "nope" not found/);
  await ok('create', 'configmap', 'dup');
  const ae = await kubectl('create', 'configmap', 'dup');
  assert.notEqual(ae.code, 0);
  assert.match(ae.stderr, /failed to create configmap: configmaps "dup" already exists/);
  const dupFile = await file('dup.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dup\n');
  const ae2 = await kubectl('create', '-f', dupFile);
  assert.notEqual(ae2.code, 0);
  assert.match(ae2.stderr, /Error from server \(AlreadyExists\): error when creating ".*dup.yaml": configmaps "dup" already exists/);
  const inv = await kubectl('create', '-f', await file('bad.yaml', 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: Bad_Pod\nspec:\n  containers:\n  - name: c\n    image: ""\n'));
  assert.notEqual(inv.code, 0);
  assert.match(inv.stderr, /The Pod "Bad_Pod" is invalid: /);
  assert.match(inv.stderr, /metadata.name: Invalid value: "Bad_Pod": a lowercase RFC 1123 subdomain must consist of/);
  assert.match(inv.stderr, /spec.containers\[0\].image: Required value/);
  const nsMissing = await kubectl('-n', 'nowhere', 'create', 'configmap', 'x');
  assert.notEqual(nsMissing.code, 0);
  assert.match(nsMissing.stderr, /namespaces "nowhere" not found/);
});
