// The demo's client: shows an authenticated ping and a refused attempt against the stack
// whose stack.env is given. Uses the `ws` package installed for the integration tests.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'tests', 'integration', 'package.json'));
const WebSocket = require('ws');

function loadEnv(file) {
  const env = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = line.match(/^(?:export\s+)?([A-Z0-9_]+)=(.*)$/);
    if (m) env[m[1]] = m[2].replace(/^'(.*)'$/, '$1').replace(/^"(.*)"$/, '$1');
  }
  return env;
}

function open(env, key) {
  const headers = key ? { Authorization: `Bearer ${key}` } : {};
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(env.KYSO_WS_URL, 'kyso.v1',
                             { ca: readFileSync(env.KYSO_CA_FILE), headers });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}`),
                                               { status: res.statusCode, body })));
    });
    ws.once('error', reject);
  });
}

const env = loadEnv(process.argv[2]);
const ws = await open(env, env.KYSO_AP_KEY);
const sent = { type: 'ping', id: 'demo-1' };
console.log(`  AP demo-ap -> ${JSON.stringify(sent)}`);
const answer = await new Promise((resolve) => {
  ws.once('message', (d) => resolve(d.toString()));
  ws.send(JSON.stringify(sent));
});
console.log(`  gateway    <- ${answer}`);
ws.close(1000);
try {
  await open(env, 'kyso_demo-ap_' + '0'.repeat(64));
  console.log('  a wrong key was accepted: this is a bug');
  process.exit(1);
} catch (e) {
  console.log(`  a wrong key  -> refused before the upgrade: ${e.message} ${e.body || ''}`);
}
