// The "Referral tree" GraphiQL plugin: draws the downline in the active tab's
// result as a collapsible tree.
import { useMemo, useState } from 'react';
import { useGraphiQL } from '@graphiql/react';

import { countDescendants, formatMoney, treesFromResponse } from './tree.js';

function TreeIcon() {
  return (
    <svg
      viewBox="0 0 24 24"
      fill="none"
      stroke="currentColor"
      strokeWidth="1.5"
      strokeLinecap="round"
      strokeLinejoin="round"
      aria-hidden="true"
    >
      <rect x="9" y="2.5" width="6" height="4.5" rx="1" />
      <rect x="2.5" y="17" width="6" height="4.5" rx="1" />
      <rect x="15.5" y="17" width="6" height="4.5" rx="1" />
      <path d="M12 7v5M5.5 17v-5h13v5" />
    </svg>
  );
}

function label(customer) {
  return customer.displayName ?? customer.externalId ?? customer.id ?? '(unnamed)';
}

function TreeNodeView({ node, defaultOpen, currency }) {
  const [open, setOpen] = useState(defaultOpen);
  const stats = node.customer.stats ?? {};
  const balance = node.customer.balance ?? null;
  const hasChildren = node.children.length > 0;
  // networkSize counts the whole downline; the result may hold only part of it.
  const notLoaded =
    typeof stats.networkSize === 'number' && !node.placeholder
      ? stats.networkSize - countDescendants(node)
      : 0;
  return (
    <li
      className="rujuk-tree-node"
      data-testid="tree-node"
      data-customer-id={node.id ?? ''}
      data-depth={node.depth}
    >
      <div className={`rujuk-tree-row${node.placeholder ? ' rujuk-tree-placeholder' : ''}`}>
        {hasChildren ? (
          <button
            type="button"
            className="rujuk-tree-toggle"
            aria-expanded={open}
            aria-label={`${open ? 'Collapse' : 'Expand'} ${label(node.customer)}`}
            onClick={() => setOpen(!open)}
          >
            {open ? '▾' : '▸'}
          </button>
        ) : (
          <span className="rujuk-tree-leaf" aria-hidden="true">
            •
          </span>
        )}
        <span className="rujuk-tree-name" data-testid="tree-node-name">
          {node.placeholder ? `(${node.id})` : label(node.customer)}
        </span>
        {stats.tier !== undefined && stats.tier !== null && (
          <span className="rujuk-tree-tier" title="tier">
            {stats.tier}
          </span>
        )}
        {stats.networkSize !== undefined && stats.networkSize !== null && (
          <span className="rujuk-tree-size" title="network size">
            network {stats.networkSize}
          </span>
        )}
        {balance && (balance.pending !== undefined || balance.approved !== undefined) && (
          <span className="rujuk-tree-balance" title="reward balance: pending / approved">
            {formatMoney(balance.pending, currency)} / {formatMoney(balance.approved, currency)}
          </span>
        )}
        {hasChildren && !open && (
          <span className="rujuk-tree-hidden">+{countDescendants(node)} hidden</span>
        )}
        {notLoaded > 0 && (
          <span
            className="rujuk-tree-hidden"
            title="below maxDepth or past the page (first/after) of this result"
          >
            +{notLoaded} not in result
          </span>
        )}
      </div>
      {hasChildren && open && (
        <ul className="rujuk-tree-children">
          {node.children.map((child) => (
            <TreeNodeView
              key={child.key}
              node={child}
              defaultOpen={defaultOpen}
              currency={currency}
            />
          ))}
        </ul>
      )}
    </li>
  );
}

function ReferralTreePanel() {
  const response = useGraphiQL((state) => state.tabs[state.activeTabIndex]?.response ?? null);
  const { trees, message, currency } = useMemo(() => treesFromResponse(response), [response]);
  // Changing the generation remounts the nodes, resetting each one's state to
  // the chosen default; cheaper than lifting every node's state up.
  const [view, setView] = useState({ generation: 0, open: true });
  const reset = (open) => setView({ generation: view.generation + 1, open });
  return (
    <section className="rujuk-tree" data-testid="referral-tree" aria-label="Referral tree">
      <div className="graphiql-doc-explorer-title">Referral tree</div>
      {message ? (
        <p className="rujuk-tree-message" data-testid="tree-message">
          {message}
        </p>
      ) : (
        <>
          <div className="rujuk-tree-actions">
            <button type="button" onClick={() => reset(true)}>
              Expand all
            </button>
            <button type="button" onClick={() => reset(false)}>
              Collapse all
            </button>
          </div>
          <p className="rujuk-tree-legend">name · tier · network size · pending / approved</p>
          {trees.map((roots, index) => (
            <ul className="rujuk-tree-root" key={`${view.generation}-${index}`}>
              {roots.map((node) => (
                <TreeNodeView
                  key={node.key}
                  node={node}
                  defaultOpen={view.open}
                  currency={currency}
                />
              ))}
            </ul>
          ))}
        </>
      )}
    </section>
  );
}

/** The GraphiQL plugin definition. */
export function referralTreePlugin() {
  return { title: 'Referral tree', icon: TreeIcon, content: ReferralTreePanel };
}
