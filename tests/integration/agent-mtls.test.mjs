// Integration: kyso-pcsc-agent authenticated by a client certificate instead of its API key
// (PCSC.md 5, PROTOCOL.md: mTLS on /v1/agent). The stack's gateway runs with tls.client_ca =
// the stack's test CA (KYSO_GATEWAY_MTLS=1); the test signs two client certificates with that
// CA and registers one of them with `kysoctl client add --cert-sha256`. The stack's own agent
// (API key) is stopped, and an agent with only the registered certificate, in the PC/SC
// namespace with the PC/SC backend, connects, announces both demo tokens under its client and
// serves an approve that ends 502 with a CMS that openssl verifies. An agent with the other
// certificate (same CA, not registered) is refused at the upgrade and never says hello.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { X509Certificate, createHash, randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Stack, connect, waitFor } from './lib/stack.mjs';
import { agentBin } from './lib/agent.mjs';

const stack = new Stack({ name: 'agent-mtls', env: { KYSO_GATEWAY_MTLS: '1' } });
const CLIENT = 'it-mtls-agent';
let env;

const derOf = (pemFile) => Buffer.from(readFileSync(pemFile, 'utf8')
  .replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
const keyIdOf = (pemFile) => createHash('sha256').update(derOf(pemFile)).digest('hex');
const file = (name) => path.join(stack.dir, name);

// A P-256 client certificate (clientAuth) signed by the stack's TLS CA; returns its SHA-256
// fingerprint (hex of the DER), the form `client add --cert-sha256` takes.
function clientCert(name) {
  const tls = path.join(stack.dir, 'tls');
  execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256',
                           '-out', file(`${name}.key`)], { stdio: 'ignore' });
  chmodSync(file(`${name}.key`), 0o600);
  execFileSync('openssl', ['req', '-new', '-key', file(`${name}.key`), '-sha256',
                           '-subj', `/O=kyso test/CN=${name}`, '-out', file(`${name}.csr`)],
               { stdio: 'ignore' });
  writeFileSync(file(`${name}.ext`), 'basicConstraints = critical, CA:FALSE\n' +
                'keyUsage = critical, digitalSignature\nextendedKeyUsage = clientAuth\n');
  execFileSync('openssl', ['x509', '-req', '-in', file(`${name}.csr`),
                           '-CA', path.join(tls, 'ca.pem'), '-CAkey', path.join(tls, 'ca.key'),
                           '-set_serial', `0x${randomBytes(16).toString('hex')}`, '-sha256',
                           '-days', '2', '-extfile', file(`${name}.ext`),
                           '-out', file(`${name}.pem`)], { stdio: 'ignore' });
  const fp = new X509Certificate(readFileSync(file(`${name}.pem`))).fingerprint256;
  assert.equal(fp.replace(/:/g, '').toLowerCase(), keyIdOf(file(`${name}.pem`)));
  return keyIdOf(file(`${name}.pem`));
}

// kyso-pcsc-agent in the stack's PC/SC namespace, toward node 1's /v1/agent, with a client
// certificate and no API key at all (neither --key-file nor KYSO_AGENT_KEY).
function startAgent(t, name, agentId) {
  const agentEnv = { ...process.env };
  delete agentEnv.KYSO_AGENT_KEY;
  writeFileSync(file('mtls-pin'), '123456\n', { mode: 0o600 });
  const url = env.KYSO_WS_URL.replace(/\/v1\/ws$/, '/v1/agent');
  const proc = spawn('nsenter', ['--target', env.KYSO_PCSC_NS_PID, '--mount', '--root', agentBin(),
                                 '--url', url, '--ca', env.KYSO_CA_FILE, '--agent-id', agentId,
                                 '--cert', file(`${name}.pem`), '--cert-key', file(`${name}.key`),
                                 '--backend', 'pcsc', '--pin-source', 'pin-file',
                                 '--pin-file', file('mtls-pin')],
                     { stdio: ['ignore', 'ignore', 'pipe'], env: agentEnv });
  const agent = { log: '' };
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => { agent.log += d; });
  const exited = new Promise((r) => proc.on('exit', r));
  t.after(async () => { proc.kill('SIGTERM'); await exited; });
  return agent;
}

// The gateway loads the client directory every 2 s and logs the count when it changes.
function clientsLoaded() {
  const m = [...stack.gatewayLog().matchAll(/msg="client directory loaded" clients=(\d+)/g)];
  return m.length > 0 ? Number(m[m.length - 1][1]) : 0;
}

test.before(async () => {
  env = stack.up().env;
  assert.equal(JSON.parse(readFileSync(env.KYSO_GATEWAY_CONFIG, 'utf8')).tls.client_ca,
               path.join(stack.dir, 'tls', 'ca.pem'));
  stack.kysoctl('credential', 'import', '--cert', env.KYSO_VCARD1_CERT, '--org', env.KYSO_DEMO_ORG,
                '--person', env.KYSO_TOKEN_SIGNER, '--type', 'personal', '--device', 'token',
                '--token-serial', keyIdOf(env.KYSO_VCARD1_CERT));
  // The stack's agent holds the same tokens with its API key: out of the way.
  stack.stop('agent');
  const before = await waitFor('the client directory', () => clientsLoaded());
  stack.kysoctl('client', 'add', '--id', CLIENT, '--role', 'agent',
                '--cert-sha256', clientCert(CLIENT));
  clientCert('it-mtls-stranger');
  await waitFor('the new client loaded', () => clientsLoaded() === before + 1);
});
test.after(() => stack.down());

test('an agent with only a client certificate announces its tokens and a sign through it ends 502',
  async (t) => {
    const agent = startAgent(t, CLIENT, 'it-mtls-pc');
    const row = await waitFor('tokens from the mTLS agent', () => stack.sql(
      "SELECT client_id || '|' || detail::text FROM node_event WHERE kind = 'agent.tokens' AND " +
      "detail->>'agent_id' = 'it-mtls-pc' ORDER BY id DESC LIMIT 1"), 30000);
    const [client, detail] = [row.slice(0, row.indexOf('|')), JSON.parse(row.slice(row.indexOf('|') + 1))];
    assert.equal(client, CLIENT); // the certificate named the client: no key was sent
    assert.equal(detail.tokens.length, 2);
    // Its stderr is read by this process's loop: wait for the line rather than race it.
    await waitFor('the agent reports connected', () => /msg="connected"/.test(agent.log));

    const c = await connect(env);
    const doc = randomBytes(1500);
    const accepted = await c.request({
      type: 'sign', id: 'mtls-1', ap_trans_id: `AGENT-MTLS-${Date.now()}`,
      signer: { subscriber_id: env.KYSO_TOKEN_SIGNER }, channel: 'pcsc', mode: 'approve',
      document: { digest: createHash('sha256').update(doc).digest('base64'),
                  digest_alg: 'SHA-256', org: env.KYSO_DEMO_ORG, class: 'quyet-dinh',
                  secrecy: 'none', title: 'Quyết định thử mTLS', number: '1/QĐ-MTLS' },
      display: 'Ký duyệt qua mTLS', format: 'cms', timeout_s: 30,
    }, 15000);
    assert.equal(accepted.type, 'accepted', JSON.stringify(accepted));
    let result;
    while (!result) {
      const f = await c.next(60000);
      if (f.txn === accepted.txn && f.type === 'result') result = f;
    }
    assert.equal(result.status.code, 502, JSON.stringify(result.status));
    writeFileSync(file('mtls.cms'), Buffer.from(result.cms, 'base64'));
    writeFileSync(file('mtls.doc'), doc);
    execFileSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', file('mtls.cms'),
                             '-content', file('mtls.doc'), '-CAfile', env.KYSO_PCSC_CA_FILE,
                             '-purpose', 'any', '-out', '/dev/null'], { stdio: 'pipe' });
    await c.close();
  });

test('a certificate of an unregistered client is refused at the upgrade', async (t) => {
  // "bad": a verified certificate that names no client ("missing" would mean none was seen).
  const fails = () => Number(stack.sql(
    "SELECT count(*) FROM node_event WHERE kind = 'auth.fail' AND detail->>'path' = '/v1/agent' " +
    "AND detail->>'reason' = 'bad'"));
  const before = fails();
  const agent = startAgent(t, 'it-mtls-stranger', 'it-mtls-stranger');
  await waitFor('the refusal', () => fails() > before && /msg="connect failed"/.test(agent.log),
                30000);
  assert.doesNotMatch(agent.log, /msg="connected"/);
  assert.equal(stack.sql("SELECT count(*) FROM node_event WHERE kind LIKE 'agent.%' AND " +
                         "detail->>'agent_id' = 'it-mtls-stranger'"), '0');
});
