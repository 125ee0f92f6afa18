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

const fetcher = createGraphiQLFetcher({
  url: httpUrl.href,
  subscriptionUrl: wsUrl.href,
});

const explorer = explorerPlugin();
const tree = referralTreePlugin();

const tabs = config.tabs.map((tab) => ({
  query: tab.query,
  variables: tab.variables,
  headers: config.headers,
}));

function App() {
  return (
    <GraphiQL
      fetcher={fetcher}
      plugins={[explorer, tree, HISTORY_PLUGIN]}
      defaultTabs={tabs}
      defaultHeaders={config.headers ?? undefined}
      defaultEditorToolsVisibility={config.headers ? 'headers' : 'variables'}
      storage={namespacedStorage(config)}
      shouldPersistHeaders={false}
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
