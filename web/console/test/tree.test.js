// Unit tests of the tree logic, with node's built-in runner: `npm test`.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  buildTree,
  countDescendants,
  findDownlines,
  formatMoney,
  treesFromResponse,
} from '../src/tree.js';

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

test('amounts are written in the currency found in the result', () => {
  const response = {
    data: {
      customer: {
        id: 'R',
        program: { currency: 'IDR' },
        downline: { edges: [edge('A', 'R', 1)] },
      },
    },
  };
  const { currency } = treesFromResponse(JSON.stringify(response));
  assert.equal(currency, 'IDR');
  assert.equal(formatMoney('2695630', 'IDR').replace(/\s/g, ' '), 'Rp 2.695.630');
  assert.equal(formatMoney('0', 'IDR').replace(/\s/g, ' '), 'Rp 0');
  // Exact past 2^53: the Decimal string never becomes a float.
  assert.equal(formatMoney('9007199254740993', 'IDR').replace(/\s/g, ' '), 'Rp 9.007.199.254.740.993');
  assert.match(formatMoney('12.50', 'USD'), /12\.50/);
  assert.equal(formatMoney(null, 'IDR'), '–');
});

test('a customer that does not exist is reported as not found', () => {
  const { trees, message } = treesFromResponse(JSON.stringify({ data: { customer: null } }));
  assert.deepEqual(trees, []);
  assert.match(message, /Customer not found/);
  assert.match(message, /`customer`/);
  assert.doesNotMatch(message, /Select/);
});

test('a failed query reports its error', () => {
  const body = { data: null, errors: [{ message: 'no such program' }] };
  assert.match(treesFromResponse(JSON.stringify(body)).message, /no such program/);
});
