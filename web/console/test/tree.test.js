// Unit tests of the tree logic, with node's built-in runner: `npm test`.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { buildTree, countDescendants, findDownlines, treesFromResponse } from '../src/tree.js';

const edge = (id, parentId, depth, extra = {}) => ({
  depth,
  parentId,
  node: { id, displayName: `Name ${id}`, ...extra },
});

function outline(nodes, depth = 0) {
  return nodes.flatMap((node) => [
    `${'  '.repeat(depth)}${node.placeholder ? `(${node.id})` : node.customer.displayName}`,
    ...outline(node.children, depth + 1),
  ]);
}

test('a customer with its downline becomes one rooted tree', () => {
  const response = {
    data: {
      customer: {
        id: 'R',
        displayName: 'Root',
        downline: {
          edges: [edge('A', 'R', 1), edge('B', 'R', 1), edge('C', 'A', 2), edge('D', 'C', 3)],
        },
      },
    },
  };
  const { trees, message } = treesFromResponse(JSON.stringify(response));
  assert.equal(message, null);
  assert.equal(trees.length, 1);
  assert.deepEqual(outline(trees[0]), ['Root', '  Name A', '    Name C', '      Name D', '  Name B']);
  assert.equal(countDescendants(trees[0][0]), 4);
});

test('parents missing from the result become placeholders, nothing is dropped', () => {
  const data = { customer: { displayName: 'No id', downline: { edges: [edge('A', 'R', 1), edge('B', 'X', 2)] } } };
  const [found] = findDownlines(data);
  assert.deepEqual(outline(buildTree(found)), ['(R)', '  Name A', '(X)', '  Name B']);
});

test('an enclosing object the edges do not hang from is not the root', () => {
  const data = { program: { id: 'P', customer: { downline: { edges: [edge('A', 'R', 1)] } } } };
  assert.deepEqual(outline(buildTree(findDownlines(data)[0])), ['(R)', '  Name A']);
});

test('every downline in a result is found, aliases included', () => {
  const data = {
    a: { id: 'R1', downline: { edges: [edge('A', 'R1', 1)] } },
    b: { id: 'R2', downline: { edges: [edge('B', 'R2', 1)] } },
  };
  assert.equal(findDownlines(data).length, 2);
});

test('results without downline edges explain what to select', () => {
  assert.match(treesFromResponse('{"data":{"programs":[]}}').message, /downline/);
  assert.match(treesFromResponse('').message, /Run a query/);
  assert.match(treesFromResponse('{"data": ').message, /not JSON/);
  const referrals = { data: { customer: { referrals: { edges: [{ node: { id: 'A' } }] } } } };
  assert.match(treesFromResponse(JSON.stringify(referrals)).message, /no downline edges/);
});
