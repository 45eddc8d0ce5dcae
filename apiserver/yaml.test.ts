import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseYaml, YamlError } from './yaml.js';

test('yaml: a Kubernetes manifest', () => {
  const doc = parseYaml(`
# a comment
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web   # trailing comment
  labels: {app: web, "x/y": 'q''s'}
  annotations:
    note: "line\\nbreak"
spec:
  replicas: 2
  paused: false
  selector:
    matchLabels:
      app: web
  template:
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        args: [a, "b c", 3]
        ports:
        - containerPort: 80
          protocol: TCP
      - name: side
        command:
          - sh
          - -c
          - |
            echo hi
            echo there
      nodeSelector: {}
      empty:
`);
  assert.deepEqual(doc, {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', labels: { app: 'web', 'x/y': "q's" }, annotations: { note: 'line\nbreak' } },
    spec: {
      replicas: 2,
      paused: false,
      selector: { matchLabels: { app: 'web' } },
      template: {
        spec: {
          containers: [
            { name: 'nginx', image: 'nginx:1.25', args: ['a', 'b c', 3], ports: [{ containerPort: 80, protocol: 'TCP' }] },
            { name: 'side', command: ['sh', '-c', 'echo hi\necho there\n'] },
          ],
          nodeSelector: {},
          empty: null,
        },
      },
    },
  });
});

test('yaml: scalars resolve as YAML 1.1 (sigs.k8s.io/yaml)', () => {
  assert.deepEqual(parseYaml('a: yes\nb: off\nc: ~\nd: 1.5\ne: "1.5"\nf: 0x1F\ng: -3\nh: text with: colon'), {
    a: true,
    b: false,
    c: null,
    d: 1.5,
    e: '1.5',
    f: 31,
    g: -3,
    h: 'text with: colon',
  });
  assert.deepEqual(parseYaml('- >\n  folded\n  text\n- |-\n  kept\n'), ['folded text\n', 'kept']);
  assert.deepEqual(parseYaml('{"json": [1, 2, {"x": null}]}'), { json: [1, 2, { x: null }] });
});

test('yaml: malformed input names the line', () => {
  assert.throws(() => parseYaml('a: 1\n  b: 2\n'), YamlError);
  assert.throws(() => parseYaml('a: [1, 2\n'), /unterminated/);
  assert.throws(() => parseYaml('a: 1\na: 2\n'), /already set/);
  assert.throws(() => parseYaml('---\na: 1\n---\nb: 2\n'), /one YAML document/);
  assert.throws(() => parseYaml('a: "unclosed\n'), YamlError);
  assert.throws(() => parseYaml('a: *alias\n'), /aliases/);
});
