// Pure functions that turn a GraphQL result into referral trees. Kept apart
// from the React panel so the logic is easy to reason about.

/**
 * A downline edge as the contract defines it: `{depth, parentId, node}`.
 * @param {unknown} value
 */
function isDownlineEdge(value) {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof value.depth === 'number' &&
    (typeof value.parentId === 'string' || typeof value.parentId === 'number') &&
    value.node !== null &&
    typeof value.node === 'object'
  );
}

/**
 * Every list of downline edges in `data`, each with the nearest enclosing
 * object that has an `id` (the customer whose downline it is), if any.
 * @param {unknown} data
 * @returns {{owner: object | null, edges: object[]}[]}
 */
export function findDownlines(data) {
  const found = [];
  const walk = (value, owner) => {
    if (Array.isArray(value)) {
      const edges = value.filter(isDownlineEdge);
      if (edges.length > 0 && edges.length === value.filter((v) => v !== null).length) {
        found.push({ owner, edges });
        return;
      }
      for (const item of value) walk(item, owner);
      return;
    }
    if (value !== null && typeof value === 'object') {
      const nextOwner = value.id !== undefined && value.id !== null ? value : owner;
      for (const child of Object.values(value)) walk(child, nextOwner);
    }
  };
  walk(data, null);
  return found;
}

/**
 * @typedef {{key: string, id: string | null, customer: object, depth: number,
 *            placeholder: boolean, children: TreeNode[]}} TreeNode
 */

/**
 * Links edges to their parents by `parentId`. Parents that are not in the
 * result (the owner was not selected, or a page was cut off) become
 * placeholder nodes, so nothing is dropped.
 * @param {{owner: object | null, edges: object[]}} downline
 * @returns {TreeNode[]} the roots
 */
export function buildTree({ owner, edges }) {
  const byId = new Map();
  const roots = [];
  let serial = 0;
  const makeNode = (customer, depth, placeholder) => {
    const id = customer.id === undefined || customer.id === null ? null : String(customer.id);
    serial += 1;
    return { key: id ?? `#${serial}`, id, customer, depth, placeholder, children: [] };
  };
  // The enclosing object is the root only if the edges hang from it; it may
  // be a further ancestor when the customer's own id was not selected.
  const ownerId = owner && owner.id !== undefined && owner.id !== null ? String(owner.id) : null;
  if (ownerId !== null && edges.some((edge) => String(edge.parentId) === ownerId)) {
    const root = makeNode(owner, 0, false);
    byId.set(root.id, root);
    roots.push(root);
  }
  const nodes = edges.map((edge) => {
    const node = makeNode(edge.node, edge.depth, false);
    if (node.id !== null && !byId.has(node.id)) byId.set(node.id, node);
    return { node, parentId: String(edge.parentId) };
  });
  for (const { node, parentId } of nodes) {
    let parent = byId.get(parentId);
    if (!parent) {
      parent = makeNode({ id: parentId }, node.depth - 1, true);
      byId.set(parentId, parent);
      roots.push(parent);
    }
    parent.children.push(node);
  }
  return roots;
}

/**
 * All trees in a response text and the currency of its amounts, or an
 * explanation of why there are none.
 * @param {string | null | undefined} responseText
 * @returns {{trees: TreeNode[][], message: string | null, currency: string | null}}
 */
export function treesFromResponse(responseText) {
  if (!responseText || !responseText.trim()) {
    return {
      trees: [],
      message: 'Run a query that selects downline edges to see the tree.',
      currency: null,
    };
  }
  let parsed;
  try {
    parsed = JSON.parse(responseText);
  } catch {
    return { trees: [], message: 'The result is not JSON yet.', currency: null };
  }
  const data = parsed && typeof parsed === 'object' ? parsed.data : null;
  const downlines = findDownlines(data);
  if (downlines.length === 0) {
    return { trees: [], message: whyNoTree(parsed, data), currency: null };
  }
  return { trees: downlines.map(buildTree), message: null, currency: findCurrency(data) };
}

/** Why a result without downline edges draws nothing. */
function whyNoTree(parsed, data) {
  const errors = Array.isArray(parsed?.errors) ? parsed.errors : [];
  if (data === null || data === undefined || typeof data !== 'object') {
    const first = errors[0]?.message;
    return first ? `The query failed: ${first}` : 'The result has no data.';
  }
  // A root field that finds nothing answers null: `customer` for an unknown
  // externalId, `node` or `program` for an unknown id.
  const missing = Object.entries(data)
    .filter(([, value]) => value === null)
    .map(([name]) => name);
  if (missing.length > 0) {
    const fields = missing.map((name) => `\`${name}\``).join(', ');
    return (
      `Customer not found: ${fields} is null in the result. ` +
      'Check the programId and externalId (or id) in the variables.'
    );
  }
  return (
    'The current result has no downline edges. Select ' +
    '`downline { edges { depth parentId node { id displayName } } }` on a customer.'
  );
}

/** The first `currency` string anywhere in `data` (e.g. `customer.program.currency`). */
export function findCurrency(data) {
  if (Array.isArray(data)) {
    for (const item of data) {
      const found = findCurrency(item);
      if (found) return found;
    }
    return null;
  }
  if (data !== null && typeof data === 'object') {
    if (typeof data.currency === 'string' && data.currency) return data.currency;
    for (const value of Object.values(data)) {
      const found = findCurrency(value);
      if (found) return found;
    }
  }
  return null;
}

// rujuk's minor units: whole units for these, cents for every other currency.
const WHOLE_UNIT_CURRENCIES = new Set(['IDR', 'JPY', 'KRW', 'VND']);
const LOCALES = { IDR: 'id-ID' };

/**
 * A Decimal (a JSON string) in the currency's own format, e.g. "Rp 2.695.630"
 * for IDR. The string goes to Intl as it is, so no digit passes through a
 * float. Without a currency: the number grouped in the browser's locale.
 * @param {string | number | null | undefined} amount
 * @param {string | null} currency
 */
export function formatMoney(amount, currency) {
  if (amount === null || amount === undefined) return '–';
  const digits = currency && WHOLE_UNIT_CURRENCIES.has(currency) ? 0 : 2;
  const options = currency
    ? { style: 'currency', currency, minimumFractionDigits: digits, maximumFractionDigits: digits }
    : { maximumFractionDigits: 20 };
  try {
    return new Intl.NumberFormat(LOCALES[currency] ?? undefined, options).format(String(amount));
  } catch {
    // An unknown currency code: the amount as the server wrote it.
    return `${currency ?? ''} ${amount}`.trim();
  }
}

/** Number of nodes below `node`. */
export function countDescendants(node) {
  let total = 0;
  for (const child of node.children) total += 1 + countDescendants(child);
  return total;
}
