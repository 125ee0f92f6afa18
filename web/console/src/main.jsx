// Entry point of the rujuk admin console: GraphiQL + explorer + referral tree.
// Everything is bundled; nothing is fetched from outside the server's origin.
import 'graphiql/setup-workers/vite';
import 'graphiql/style.css';
import '@graphiql/plugin-explorer/style.css';
import './console.css';

import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL, HISTORY_PLUGIN } from 'graphiql';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { explorerPlugin } from '@graphiql/plugin-explorer';

import { readConfig, namespacedStorage } from './config.js';
import { referralTreePlugin } from './tree-plugin.jsx';

const config = readConfig();

// Absolute same-origin URLs: the endpoint path comes from the server, the
// origin always from the page, so requests can never go elsewhere.
const httpUrl = new URL(config.endpoint, window.location.href);
const wsUrl = new URL(httpUrl);
wsUrl.protocol = httpUrl.protocol === 'https:' ? 'wss:' : 'ws:';

const baseFetcher = createGraphiQLFetcher({
  url: httpUrl.href,
  subscriptionUrl: wsUrl.href,
});

// GraphiQL updates the operation name a moment after the editor content
// changes (e.g. on switching tabs), so a quick run could send the previous
// tab's name with the new query; the server would then reject the request.
// A name the document does not define is never right: drop it.
function fetcher(params, options) {
  const name = params.operationName;
  if (name && !definesOperation(params.query, name)) {
    return baseFetcher({ ...params, operationName: undefined }, options);
  }
  return baseFetcher(params, options);
}

function definesOperation(query, name) {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`\\b(query|mutation|subscription)\\s+${escaped}\\b`).test(query);
}

const explorer = explorerPlugin();
const tree = referralTreePlugin();

const tabs = config.tabs.map((tab) => ({
  query: tab.query,
  variables: tab.variables,
  headers: config.headers,
}));

const storage = namespacedStorage(config);
// GraphiQL 5 fills the first tab's operation editor from defaultTabs but not
// its variables editor; on a first visit (nothing stored) pass them directly.
const firstVisit = storage.getItem('graphiql:tabState') === null;
const initialVariables = firstVisit ? (tabs[0]?.variables ?? undefined) : undefined;
// Headers are persisted only in development, where they hold the demo token
// (the storage namespace changes with it); elsewhere tokens the admin types
// stay out of localStorage.
const persistHeaders = config.headers !== null;

function App() {
  return (
    <GraphiQL
      fetcher={fetcher}
      plugins={[explorer, tree, HISTORY_PLUGIN]}
      defaultTabs={tabs}
      defaultHeaders={config.headers ?? undefined}
      defaultEditorToolsVisibility="variables"
      storage={storage}
      initialVariables={initialVariables}
      shouldPersistHeaders={persistHeaders}
    >
      <GraphiQL.Logo>
        <span className="rujuk-logo">
          rujuk <small>admin console</small>
        </span>
      </GraphiQL.Logo>
    </GraphiQL>
  );
}

createRoot(document.getElementById('graphiql')).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
