import { test } from 'node:test';
import assert from 'node:assert/strict';
import { byClass, parseXml, textOf, XmlParseError } from './xml-tree.js';

test('well-formed documents parse into their structure', () => {
  const root = parseXml('<?xml version="1.0"?>\n<!DOCTYPE x>\n<a x="1" y=\'&lt;2&gt;\'><b class="p q">t &amp; u&#33;</b><c/><!-- c --></a>\n');
  assert.equal(root.name, 'a');
  assert.deepEqual(root.attrs, { x: '1', y: '<2>' });
  assert.equal(byClass(root, 'q').length, 1);
  assert.equal(textOf(root), 't & u!');
});

test('malformed documents are rejected', () => {
  for (const bad of [
    '<a><b></a></b>',
    '<a>',
    '<a x=1></a>',
    '<a x="1" x="2"></a>',
    '<a>1 < 2</a>',
    '<a>fish & chips</a>',
    '<a>&nbsp;</a>',
    '<a></a><b></b>',
    '<a title="x<y"></a>',
    '<div><div/></div',
  ]) {
    assert.throws(() => parseXml(bad), XmlParseError, bad);
  }
});
