// Reads the page configuration the Python side embeds, and wraps localStorage
// so that GraphiQL's persisted tabs fit the running server.

/**
 * @typedef {{query: string, variables: string | null}} ExampleTab
 * @typedef {{endpoint: string, headers: string | null, tabs: ExampleTab[],
 *            storageNamespace: string}} ConsoleConfig
 */

/** @returns {ConsoleConfig} */
export function readConfig() {
  const element = document.getElementById('rujuk-console-config');
  const parsed = element ? JSON.parse(element.textContent || '{}') : {};
  return {
    endpoint: typeof parsed.endpoint === 'string' ? parsed.endpoint : '/graphql',
    headers: typeof parsed.headers === 'string' ? parsed.headers : null,
    tabs: Array.isArray(parsed.tabs) ? parsed.tabs : [],
    storageNamespace:
      typeof parsed.storageNamespace === 'string' ? parsed.storageNamespace : 'default',
  };
}

/**
 * A Storage whose keys are prefixed by a namespace the server derives from the
 * demo program, example set and dev token, so tabs saved against an older
 * database (with ids or a token that no longer exist) do not hide the current
 * examples.
 *
 * @param {ConsoleConfig} config
 * @returns {Storage}
 */
export function namespacedStorage(config) {
  const prefix = `rujuk:${config.storageNamespace}:`;
  let backing;
  try {
    backing = window.localStorage;
    backing.getItem(prefix);
  } catch {
    backing = memoryStorage();
  }
  const ownKeys = () => {
    const keys = [];
    for (let i = 0; i < backing.length; i++) {
      const key = backing.key(i);
      if (key && key.startsWith(prefix)) keys.push(key.slice(prefix.length));
    }
    return keys;
  };
  return {
    get length() {
      return ownKeys().length;
    },
    key(index) {
      return ownKeys()[index] ?? null;
    },
    getItem(key) {
      return backing.getItem(prefix + key);
    },
    setItem(key, value) {
      backing.setItem(prefix + key, value);
    },
    removeItem(key) {
      backing.removeItem(prefix + key);
    },
    clear() {
      for (const key of ownKeys()) backing.removeItem(prefix + key);
    },
  };
}

function memoryStorage() {
  const map = new Map();
  return {
    get length() {
      return map.size;
    },
    key: (i) => [...map.keys()][i] ?? null,
    getItem: (k) => (map.has(k) ? map.get(k) : null),
    setItem: (k, v) => void map.set(k, String(v)),
    removeItem: (k) => void map.delete(k),
    clear: () => map.clear(),
  };
}
