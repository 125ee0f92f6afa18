// Apollo Client's persisted-query link against a live server: runs one query with two
// fresh clients and prints, per client, one JSON line with the answer and the requests
// the link sent ({method, hasQuery, query}). Usage: node apollo-apq.mjs URL TOKEN POST|GET
import { createHash } from 'node:crypto';
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';

const [url, token, method] = process.argv.slice(2);
if (!url || !token || !['POST', 'GET'].includes(method)) {
  console.error('usage: node apollo-apq.mjs URL TOKEN POST|GET');
  process.exit(2);
}

// One document per method, so that each run starts with a hash the server has not seen.
const PROGRAMS = gql(`
  query Programs${method} {
    programs {
      id
      name
    }
  }
`);

async function run() {
  const requests = [];
  const recordingFetch = async (input, init = {}) => {
    const target = new URL(typeof input === 'string' ? input : input.url);
    const sent = init.method === 'GET' ? Object.fromEntries(target.searchParams) : JSON.parse(init.body);
    requests.push({ method: init.method ?? 'GET', hasQuery: Boolean(sent.query), query: sent.query ?? null });
    return fetch(input, init);
  };
  const link = ApolloLink.from([
    new PersistedQueryLink({
      sha256: (text) => createHash('sha256').update(text).digest('hex'),
      useGETForHashedQueries: method === 'GET',
    }),
    new HttpLink({ uri: url, headers: { authorization: `Bearer ${token}` }, fetch: recordingFetch }),
  ]);
  const client = new ApolloClient({ link, cache: new InMemoryCache() });
  const result = await client.query({ query: PROGRAMS, errorPolicy: 'all', fetchPolicy: 'network-only' });
  const errors = result.error?.errors ?? (result.error ? [{ message: String(result.error), extensions: {} }] : undefined);
  return { data: result.data ?? null, errors, requests };
}

for (let n = 0; n < 2; n += 1) {
  console.log(JSON.stringify(await run()));
}
