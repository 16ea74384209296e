// Integration: recovery cases of locked devices (REGULATION.md B14-B18, PROTOCOL.md section 9)
// on the real stack. A token of the demo organisation (province dong-nai, whose Sở KH&CN is
// authorised for token recovery) and a SIM (always the central CA) are blocked through
// `kysoctl recovery open`, the same SQL transaction the gateway runs for a 402/4021. The cases
// reach an HTTPS webhook receiver (node's https server with the stack's test TLS certificate)
// and MQTT; a receiver that is down keeps the case queued until it is back, then gets it once;
// the connector's callback resolves a case and unlocks the credential.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync, writeFileSync, chmodSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { Stack, waitFor, MqttProbe } from './lib/stack.mjs';

const stack = new Stack({ name: 'recovery' });
const secrets = { 'dong-nai': 'dong-nai-webhook-secret-0123456789', central: 'central-webhook-secret-abcdefghij' };
let env, policyFile, receiver, port, mqtt, tokenCred, simCred, connKey, otherKey;

// An HTTPS receiver that records every POST; `mode` picks its answer per destination path.
class Receiver {
  constructor(tlsDir) {
    this.got = [];
    this.answer = { 'dong-nai': 200, central: 200 };
    this.opts = { key: readFileSync(path.join(tlsDir, 'server.key')),
                  cert: readFileSync(path.join(tlsDir, 'server-chain.pem')) };
  }
  listen(p = 0) {
    this.server = https.createServer(this.opts, (req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (d) => { body += d; });
      req.on('end', () => {
        const dest = req.url.replace(/^\/hook\//, '');
        const status = this.answer[dest] || 404;
        this.got.push({ dest, body, headers: req.headers, status });
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end('{}');
      });
    });
    return new Promise((resolve) => this.server.listen(p, '127.0.0.1', () => {
      resolve(this.server.address().port);
    }));
  }
  close() {
    return new Promise((resolve) => { this.server.close(() => resolve()); this.server.closeAllConnections(); });
  }
  delivered(dest, caseId) {
    return this.got.filter((g) => g.dest === dest && g.status >= 200 && g.status < 300 &&
                                  JSON.parse(g.body).case_id === caseId);
  }
}

function post(urlPath, key, body) {
  const url = new URL(urlPath, env.KYSO_HTTP_URL);
  const data = body === undefined ? '' : JSON.stringify(body);
  const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) };
  if (key) headers.authorization = `Bearer ${key}`;
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: 'POST', ca: readFileSync(env.KYSO_CA_FILE), headers,
                                     timeout: 10000 }, (res) => {
      let b = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { b += d; });
      res.on('end', () => resolve({ status: res.statusCode, body: b }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`POST ${urlPath}: no answer`)));
    req.end(data);
  });
}

const credState = (id) => stack.sql(`SELECT state FROM credential WHERE id = ${id}`);
const openJson = (cred) => JSON.parse(stack.kysoctl('recovery', 'open', '--credential', cred,
                                                    '--policy', policyFile, '--json'));

test.before(async () => {
  env = stack.up().env;
  const tlsDir = path.join(stack.dir, 'tls');
  receiver = new Receiver(tlsDir);
  port = await receiver.listen();
  const connector = (dest) => ({ url: `https://127.0.0.1:${port}/hook/${dest}`,
                                 secret: secrets[dest], ca_file: env.KYSO_CA_FILE });
  policyFile = env.KYSO_POLICY_FILE;
  writeFileSync(policyFile, JSON.stringify({
    central: { connector: connector('central') },
    provinces: { 'dong-nai': { connector: connector('dong-nai') } },
  }));
  chmodSync(policyFile, 0o600);
  // SIGHUP reads the policy file again: the two connectors are in force from then on.
  process.kill(Number(env.KYSO_GATEWAY_PID), 'SIGHUP');
  await waitFor('the policy reload', () =>
    /policy reloaded" recovery_destinations=2/.test(stack.gatewayLog()));
  connKey = stack.kysoctl('client', 'add', '--id', 'conn-dong-nai', '--role', 'connector',
                          '--destination', 'dong-nai').trim();
  otherKey = stack.kysoctl('client', 'add', '--id', 'conn-central', '--role', 'connector',
                           '--destination', 'central').trim();
  const org = env.KYSO_DEMO_ORG;
  stack.sql(`INSERT INTO person (id, org, full_name) VALUES ('rc-official', '${org}', 'Nguyễn Văn A')`);
  tokenCred = stack.sql(`INSERT INTO credential (org, person, type, device, token_serial, serial_hex,
                           subject) VALUES ('${org}', 'rc-official', 'personal', 'token', 'TK-0001',
                           '54034fa1', 'CN=Nguyễn Văn A') RETURNING id`).split('\n')[0];
  simCred = stack.sql(`INSERT INTO credential (org, person, type, device, msisdn, serial_hex, subject)
                         VALUES ('${org}', 'rc-official', 'personal', 'sim', '84901234567', '77aa01',
                         'CN=Nguyễn Văn A SIM') RETURNING id`).split('\n')[0];
  mqtt = new MqttProbe(env, 'kyso/v1/recovery/#');
  await waitFor('the MQTT subscription', () => mqtt.ready());
});

test.after(async () => {
  if (mqtt) mqtt.stop();
  if (receiver) await receiver.close().catch(() => {});
  stack.down();
});

test('a blocked token is locked, routed to the Sở of dong-nai, POSTed signed and published', async () => {
  const o = openJson(tokenCred);
  assert.equal(o.created, true);
  assert.equal(o.destination, 'dong-nai'); // B15: token recovery → the authorised Sở
  assert.match(o.case_id, /^rc-[0-9A-Z]{26}$/);
  assert.equal(credState(tokenCred), 'locked');
  assert.equal(o.body.form, 'Mẫu 06');
  assert.equal(o.body.type, 'recover');
  assert.equal(o.body.device, 'token');
  assert.equal(o.body.token_serial, 'TK-0001');
  assert.equal(o.body.province, 'dong-nai');
  assert.deepEqual(o.body.credential, { serial: '54034fa1', subject: 'CN=Nguyễn Văn A' });
  assert.match(o.body.due_date, /^\d{4}-\d\d-\d\d$/); // B16: 1 working day
  const got = await waitFor('the webhook', () => receiver.delivered('dong-nai', o.case_id)[0]);
  const sig = createHmac('sha256', secrets['dong-nai']).update(got.body).digest('hex');
  assert.equal(got.headers['x-kyso-signature'], `sha256=${sig}`);
  assert.equal(got.headers['idempotency-key'], o.case_id);
  assert.deepEqual(JSON.parse(got.body), o.body);
  const m = await waitFor('the MQTT message', () => mqtt.messages(
    (l) => l.topic === 'kyso/v1/recovery/dong-nai' && l.payload.includes(o.case_id))[0]);
  assert.deepEqual(m.msg, o.body);
  await waitFor('the delivery recorded', () =>
    stack.sql(`SELECT state FROM recovery_delivery WHERE case_id = '${o.case_id}'`) === 'delivered');
});

test('a second block of the same device opens no second case', () => {
  const first = stack.sql(`SELECT id FROM recovery_case WHERE credential = ${tokenCred}`);
  const again = openJson(tokenCred);
  assert.equal(again.created, false);
  assert.equal(again.case_id, first);
  assert.equal(stack.sql(`SELECT count(*) FROM recovery_case WHERE credential = ${tokenCred}`), '1');
});

test('a SIM goes to the central CA; receiver down then up: delivered exactly once', async () => {
  await receiver.close(); // nothing listens on the port now
  const o = openJson(simCred);
  assert.equal(o.destination, 'central'); // B15: SIM recovery → Cục (G11.07.05)
  assert.equal(o.body.msisdn, '84901234567');
  assert.equal(o.body.token_serial, undefined);
  await waitFor('two failed attempts', () => Number(stack.sql(
    `SELECT attempts FROM recovery_delivery WHERE case_id = '${o.case_id}'`)) >= 2, 30000);
  assert.equal(stack.sql(`SELECT state FROM recovery_delivery WHERE case_id = '${o.case_id}'`),
               'pending');
  // Then the receiver answers 503 once more before it accepts: also retried.
  receiver.answer.central = 503;
  await receiver.listen(port);
  await waitFor('a 503 answered', () => receiver.got.some((g) => g.dest === 'central' && g.status === 503), 30000);
  receiver.answer.central = 200;
  await waitFor('the delivery', () => receiver.delivered('central', o.case_id).length === 1, 30000);
  await waitFor('the delivery recorded', () =>
    stack.sql(`SELECT state FROM recovery_delivery WHERE case_id = '${o.case_id}'`) === 'delivered');
  // Several more poll rounds (recovery.poll_ms 200, retries 1-2 s): no second delivery.
  await new Promise((r) => setTimeout(r, 4000));
  assert.equal(receiver.delivered('central', o.case_id).length, 1);
  const hist = JSON.parse(stack.kysoctl('recovery', 'show', o.case_id, '--json'));
  assert.equal(hist.delivery.state, 'delivered');
  assert.ok(hist.delivery.attempts >= 4, `attempts ${hist.delivery.attempts}`);
  assert.equal(hist.delivery.history.length, hist.delivery.attempts); // every attempt recorded
  assert.equal(hist.delivery.history.at(-1).status, 200);
  assert.equal(hist.delivery.history.filter((a) => a.status === 200).length, 1);
  assert.ok(mqtt.messages((l) => l.topic === 'kyso/v1/recovery/central' &&
                                 l.payload.includes(o.case_id)).length >= 1);
});

test('the connector callback resolves the case and unlocks the credential', async () => {
  const id = stack.sql(`SELECT id FROM recovery_case WHERE credential = ${tokenCred}`);
  assert.equal((await post(`/v1/recovery/${id}/resolve`, null, {})).status, 401);
  assert.equal((await post(`/v1/recovery/${id}/resolve`, env.KYSO_AP_KEY, {})).status, 403);
  assert.equal((await post(`/v1/recovery/${id}/resolve`, otherKey, {})).status, 403);
  assert.equal((await post(`/v1/recovery/rc-00000000000000000000000000/resolve`, connKey, {})).status, 404);
  assert.equal((await post(`/v1/recovery/${id}/resolve`, connKey, { note: 1 })).status, 400);
  const r = await post(`/v1/recovery/${id}/resolve`, connKey, { note: 'PUK unblock by the Sở' });
  assert.equal(r.status, 200, r.body);
  const c = JSON.parse(r.body);
  assert.equal(c.state, 'resolved');
  assert.equal(c.resolved_by, 'connector:conn-dong-nai');
  assert.equal(c.note, 'PUK unblock by the Sở');
  assert.equal(credState(tokenCred), 'active');
  const again = await post(`/v1/recovery/${id}/resolve`, connKey);
  assert.equal(again.status, 200);
  assert.equal(JSON.parse(again.body).resolved_at, c.resolved_at);
  await waitFor('the resolution on MQTT', () => mqtt.messages(
    (l) => l.topic === 'kyso/v1/recovery/dong-nai' && l.payload.includes('"resolved"') &&
           l.payload.includes(id))[0]);
  // Unlocked, the device may block again: that is a new case. Without --policy, kysoctl
  // routes with the policy the stack loaded into the database (deploy/policy.example.json).
  const next = JSON.parse(stack.kysoctl('recovery', 'open', '--credential', tokenCred, '--json'));
  assert.equal(next.created, true);
  assert.notEqual(next.case_id, id);
  assert.equal(next.destination, 'dong-nai');
});

test('kysoctl recovery list, show and resolve', () => {
  const list = JSON.parse(stack.kysoctl('recovery', 'list', '--json'));
  assert.equal(list.length, 3);
  const open = JSON.parse(stack.kysoctl('recovery', 'list', '--state', 'open', '--json'));
  assert.equal(open.length, 2);
  const sim = JSON.parse(stack.kysoctl('recovery', 'list', '--destination', 'central', '--json'));
  assert.equal(sim.length, 1);
  // Exit codes as every kysoctl command: 1 refused or not found, 2 usage.
  assert.equal(stack.kysoctlStatus('recovery', 'show', 'rc-00000000000000000000000000'), 1);
  assert.equal(stack.kysoctlStatus('recovery', 'resolve', 'rc-00000000000000000000000000'), 1);
  assert.equal(stack.kysoctlStatus('recovery', 'list', '--state', 'maybe'), 2);
  assert.equal(stack.kysoctlStatus('recovery', 'open', '--credential', '999999',
                                   '--policy', policyFile), 1);
  const done = JSON.parse(stack.kysoctl('recovery', 'resolve', sim[0].case_id, '--note', 'PUK by the Cục', '--json'));
  assert.equal(done.state, 'resolved');
  assert.equal(done.resolved_by, 'kysoctl');
  assert.equal(credState(simCred), 'active');
  assert.match(stack.kysoctl('recovery', 'list'), new RegExp(sim[0].case_id));
  // A revoked credential cannot be "blocked" into a case: refused (1).
  stack.sql(`UPDATE credential SET state = 'revoked' WHERE id = ${simCred}`);
  assert.equal(stack.kysoctlStatus('recovery', 'open', '--credential', simCred,
                                   '--policy', policyFile), 1);
});
