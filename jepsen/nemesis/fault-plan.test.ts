import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../common/prng.js';
import { CLIENT } from '../net/link-faults.js';
import { NEMESES, parseNemeses, planFaults } from './fault-plan.js';
import { PARTITION_SHAPES, partitionShapeFor, planPartition, type LinkFault } from './partition.js';

test('--nemesis lists: known names, de-duplicated; none; unknown names refused', () => {
  assert.deepEqual(parseNemeses('partition,kill'), ['partition', 'kill']);
  assert.deepEqual(parseNemeses(' kill , kill,pause '), ['kill', 'pause']);
  assert.deepEqual(parseNemeses('none'), []);
  assert.deepEqual(parseNemeses(NEMESES.join(',')), [...NEMESES]);
  assert.throws(() => parseNemeses('partition,flood'), /unknown nemesis "flood"/);
  assert.throws(() => parseNemeses(''), /at least one/);
});

test('the plan is a function of the seed: faults one at a time, inside the run, of the listed kinds', () => {
  const kinds = ['partition', 'kill', 'transfer'] as const;
  const a = planFaults(kinds, 60_000, new Prng(42));
  assert.deepEqual(planFaults(kinds, 60_000, new Prng(42)), a);
  assert.notDeepEqual(planFaults(kinds, 60_000, new Prng(43)), a);
  assert.ok(a.length >= 8, `only ${a.length} faults in a minute`);
  let end = 0;
  for (const f of a) {
    assert.ok((kinds as readonly string[]).includes(f.kind));
    assert.ok(f.atMs >= end, `${f.id} starts before the previous fault ended`);
    end = f.atMs + f.durationMs;
    assert.ok(end <= 60_000 - 500, `${f.id} runs past the main phase`);
    if (f.kind === 'transfer') assert.equal(f.durationMs, 0);
  }
  assert.deepEqual(new Set(a.map((f) => f.kind)), new Set(kinds));
  assert.deepEqual(planFaults([], 60_000, new Prng(1)), []);
  assert.deepEqual(planFaults(['member'], 3000, new Prng(1)), [], 'a member fault cannot fit in 3 s');
});

const members = ['n1', 'n2', 'n3'];
const cutSet = (links: LinkFault[]) => new Set(links.filter((l) => l.cut).map((l) => `${l.from}->${l.to}`));

/** A seed whose partition takes this shape. */
function seedFor(shape: string): number {
  for (let s = 0; s < 10_000; s++) if (partitionShapeFor(s) === shape) return s;
  throw new Error(`no seed for ${shape}`);
}

test('partition shapes cut the right directed links', () => {
  for (const shape of PARTITION_SHAPES) {
    const seed = seedFor(shape);
    const p = planPartition(seed, members, 'n2');
    assert.equal(p.shape, shape);
    assert.deepEqual(planPartition(seed, members, 'n2'), p, 'not deterministic');
    const cuts = cutSet(p.links);
    switch (shape) {
      case 'halves': {
        const [minority] = p.targets as [string];
        assert.equal(p.targets.length, 1);
        assert.deepEqual(cuts, new Set(members.filter((m) => m !== minority).flatMap((m) => [`${m}->${minority}`, `${minority}->${m}`])));
        break;
      }
      case 'isolate-leader':
        assert.deepEqual(p.targets, ['n2']);
        assert.deepEqual(cuts, new Set(['n1->n2', 'n2->n1', 'n3->n2', 'n2->n3']));
        break;
      case 'bridge': {
        const [bridge] = p.targets as [string];
        const [a, b] = members.filter((m) => m !== bridge) as [string, string];
        assert.deepEqual(cuts, new Set([`${a}->${b}`, `${b}->${a}`]), 'only the two sides are cut; the bridge talks to both');
        break;
      }
      case 'one-way': {
        const [x] = p.targets as [string];
        assert.equal(cuts.size, 2);
        const inbound = [...cuts].every((c) => c.endsWith(`->${x}`));
        const outbound = [...cuts].every((c) => c.startsWith(`${x}->`));
        assert.ok(inbound !== outbound, `one direction only: ${[...cuts].join(', ')}`);
        break;
      }
      case 'lossy':
        assert.equal(cuts.size, 0);
        assert.equal(p.links.length, 6);
        assert.ok(p.links.every((l) => l.drop! > 0 && l.drop! < 0.05 && l.delayMs! > 0));
        break;
      case 'client-cut': {
        const [x] = p.targets as [string];
        assert.deepEqual(cuts, new Set([`${CLIENT}->${x}`, `${x}->${CLIENT}`]));
        break;
      }
    }
  }
});
