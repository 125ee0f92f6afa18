// The graphql-http audit of a live server: prints one JSON line per audit
// ({name, status, reason}) and exits 0; the pytest side judges the results.
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs URL');
  process.exit(2);
}
const results = await auditServer({ url });
for (const result of results) {
  const { name, status } = result;
  const reason = status === 'ok' ? null : result.reason;
  console.log(JSON.stringify({ id: result.id, name, status, reason }));
}
