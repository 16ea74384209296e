// Integration: transactions that reach `accepted` (PROTOCOL.md 4, ARCHITECTURE.md 4 and 6) on
// the real stack with the demo directory: idempotency, the per-signer queue, cancel before
// dispatch, status, subscribe replay, deadlines, policy denial and the reload after a restart;
// the REST binding and its long poll.
// The credentials are real certificates imported with kysoctl; no device channel answers here
// (the SIM tests need the carrier simulator), so requests wait undispatched.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Stack, connect, root, waitFor } from './lib/stack.mjs';

const stack = new Stack({ name: 'txn-dir', args: ['--nodes', '2', '--skip', 'sim'] });
let env;
const work = mkdtempSync(path.join(tmpdir(), 'kyso-it-certs-'));
const D256 = '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=';
const SIGNER = '84900000000';   // dn-chu-tich, every class
const CLERKISH = '84900000002'; // dn-chuyen-vien, "bao-cao" only
const SECOND = '84900000001';   // dn-pho-chu-tich, quyet-dinh among others
const REVOKED = '84900000009';  // a revoked certificate

// Certificates from the stack's test PKI (deploy/test-pki), so that the check before signing
// (chain to the anchor, OCSP from the AIA) passes; --revoked makes the responder say so.
function certFor(name, person, msisdn, revoked = false) {
  const out = path.join(work, name);
  execFileSync(path.join(root, 'deploy', 'test-pki'),
               ['issue', path.join(stack.dir, 'pki'), '--cn', name, '--key-alg', 'ec-p256',
                '--out', out, ...(revoked ? ['--revoked'] : [])], { stdio: 'ignore' });
  stack.kysoctl('credential', 'import', '--cert', `${out}.crt`, '--org', env.KYSO_DEMO_ORG,
                '--person', person, '--type', 'personal', '--device', 'sim', '--msisdn', msisdn);
}

test.before(() => {
  env = stack.up().env;
  certFor('an', 'dn-chu-tich', SIGNER);
  certFor('cuong', 'dn-chuyen-vien', CLERKISH);
  certFor('binh', 'dn-pho-chu-tich', SECOND);
  stack.kysoctl('person', 'add', '--id', 'dn-revoked', '--org', env.KYSO_DEMO_ORG, '--name',
                'Võ Văn Em', '--msisdn', REVOKED);
  stack.kysoctl('role', 'add', '--person', 'dn-revoked', '--org', env.KYSO_DEMO_ORG, '--title',
                'Phó Chủ tịch', '--classes', '*');
  certFor('em', 'dn-revoked', REVOKED, true);
});
test.after(() => { stack.down(); rmSync(work, { recursive: true, force: true }); });

function rest(method, urlPath, body) {
  const url = new URL(urlPath, env.KYSO_HTTP_URL);
  const data = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const headers = { authorization: `Bearer ${env.KYSO_AP_KEY}`,
                      'content-type': 'application/json' };
    if (data !== undefined) headers['content-length'] = Buffer.byteLength(data);
    const req = https.request(url, { method, headers, ca: readFileSync(env.KYSO_CA_FILE),
                                     timeout: 10000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

let n = 0;
function sign(over = {}, docOver = {}) {
  n++;
  return {
    type: 'sign', id: `c-${n}`, ap_trans_id: `dir-${n}-${Date.now()}`,
    signer: { msisdn: SIGNER }, channel: 'sim', mode: 'approve',
    document: { digest: D256, digest_alg: 'SHA-256', org: env.KYSO_DEMO_ORG,
                class: 'quyet-dinh', secrecy: 'none', ...docOver },
    display: 'Ký duyệt QĐ 1', format: 'pkcs1', timeout_s: 120, ...over,
  };
}

async function until(c, pred, what) {
  for (;;) {
    const f = await c.next(15000);
    if (pred(f)) return f;
    if (f.type === 'error') throw new Error(`${what}: ${JSON.stringify(f)}`);
  }
}

const open = [];
async function cancelAll(c) {
  for (const t of open.splice(0)) {
    c.send({ type: 'cancel', id: `cx-${t}`, txn: t });
    await until(c, (f) => f.type === 'result' && f.txn === t, 'cancel');
  }
}

test('accepted, an idempotent repeat, and 101/1019 for another body', async () => {
  const c = await connect(env);
  const req = sign();
  const acc = await c.request(req);
  assert.equal(acc.type, 'accepted', JSON.stringify(acc));
  assert.equal(acc.id, req.id);
  assert.equal(acc.seq, 1);
  assert.equal(acc.status.code, 100);
  assert.match(acc.verification_code, /^\d{4}$/);
  assert.match(acc.txn, /^[0-9a-f]{8}-[0-9a-f]{4}-7/);
  open.push(acc.txn);
  const again = await c.request({ ...req, id: 'again' });
  assert.equal(again.type, 'accepted');
  assert.equal(again.id, 'again');
  assert.equal(again.txn, acc.txn);
  assert.equal(again.verification_code, acc.verification_code);
  const other = await c.request({ ...req, id: 'other', display: 'Ký duyệt QĐ 2' });
  assert.equal(other.type, 'error');
  assert.equal(other.status.code, 101);
  assert.equal(other.status.sub, 1019);
  assert.equal(stack.sql(`SELECT count(*) FROM txn WHERE ap_trans_id = '${req.ap_trans_id}'`), '1');
  // The display kept as evidence carries the AP's prefix and the code.
  const shown = stack.sql(`SELECT display FROM txn WHERE id = '${acc.txn}'`);
  assert.equal(shown, `UBND DN ${acc.verification_code}: Ký duyệt QĐ 1`);
  await cancelAll(c);
  await c.close();
});

test('one request per signer on the device, the next is queued; cancel before dispatch', async () => {
  const c = await connect(env);
  const a = await c.request(sign());
  assert.equal(a.type, 'accepted');
  const b = await c.request(sign());
  assert.equal(b.type, 'accepted');
  const q = await c.next();
  assert.deepEqual([q.type, q.txn, q.seq, q.state], ['progress', b.txn, 2, 'queued']);
  const st = await c.request({ type: 'status', id: 'st-b', txn: b.txn });
  assert.equal(st.id, 'st-b');
  assert.equal(st.state, 'queued');
  c.send({ type: 'cancel', id: 'cn-b', txn: b.txn });
  const cancelled = await c.next();
  assert.deepEqual([cancelled.type, cancelled.id, cancelled.txn], ['cancelled', 'cn-b', b.txn]);
  const res = await until(c, (f) => f.type === 'result', 'result');
  assert.equal(res.txn, b.txn);
  assert.equal(res.seq, 3);
  assert.equal(res.status.code, 401);
  assert.equal(res.status.sub, 4014);
  assert.equal(stack.sql(`SELECT state FROM txn WHERE id = '${b.txn}'`), 'CANCELLED');
  // A cancel of a final transaction returns its real result.
  const again = await c.request({ type: 'cancel', id: 'cn-b2', txn: b.txn });
  assert.equal(again.type, 'result');
  assert.equal(again.status.sub, 4014);
  open.push(a.txn);
  await cancelAll(c);
  await c.close();
});

test('a signer with a full queue (limits.signer_queue, 16 by default) is refused 406',
     async () => {
  const c = await connect(env);
  const answer = async (req) => { // the answer to req, past the queued progress events
    c.send(req);
    for (;;) { const f = await c.next(15000); if (f.id === req.id) return f; }
  };
  for (let i = 0; i < 16; i++) {
    const a = await answer(sign());
    assert.equal(a.type, 'accepted', `request ${i + 1}: ${JSON.stringify(a)}`);
    open.push(a.txn);
  }
  const before = stack.sql('SELECT count(*) FROM txn');
  const full = await answer(sign());
  assert.equal(full.type, 'error', JSON.stringify(full));
  assert.equal(full.status.code, 406);
  assert.equal(stack.sql('SELECT count(*) FROM txn'), before);
  // Another signer is not affected.
  const other = await answer(sign({ signer: { msisdn: SECOND } }));
  assert.equal(other.type, 'accepted', JSON.stringify(other));
  open.push(other.txn);
  await cancelAll(c);
  await c.close();
});

test('subscribe after a reconnect replays the missed events from the log', async () => {
  let c = await connect(env);
  const a = await c.request(sign());
  assert.equal(a.type, 'accepted');
  await c.close();
  c = await connect(env);
  c.send({ type: 'cancel', id: 'cn', txn: a.txn });
  await until(c, (f) => f.type === 'result', 'cancel');
  await c.close();
  c = await connect(env);
  const ack = await c.request({ type: 'subscribe', id: 'sub', since: { [a.txn]: 0 } });
  assert.equal(ack.type, 'subscribed');
  const e1 = await c.next();
  const e2 = await c.next();
  assert.deepEqual([e1.type, e1.seq, e1.txn], ['accepted', 1, a.txn]);
  assert.equal(e1.verification_code, a.verification_code);
  assert.deepEqual([e2.type, e2.seq, e2.status.sub], ['result', 2, 4014]);
  const ack2 = await c.request({ type: 'subscribe', id: 'sub2', since: { [a.txn]: 1 } });
  assert.equal(ack2.type, 'subscribed');
  const only = await c.next();
  assert.equal(only.seq, 2);
  await c.close();
});

test('a request never dispatched expires 208/2081 at its deadline', async () => {
  const c = await connect(env);
  const a = await c.request(sign({ timeout_s: 10 }));
  assert.equal(a.type, 'accepted');
  const r = await until(c, (f) => f.type === 'result', 'expiry');
  assert.equal(r.txn, a.txn);
  assert.equal(r.status.code, 208);
  assert.equal(r.status.sub, 2081);
  assert.equal(stack.sql(`SELECT state FROM txn WHERE id = '${a.txn}'`), 'EXPIRED');
  await c.close();
});

test('policy denial (A3) is an error with its rule and no transaction', async () => {
  const c = await connect(env);
  const before = stack.sql('SELECT count(*) FROM txn');
  const e = await c.request(sign({ signer: { msisdn: CLERKISH } }, { class: 'quyet-dinh' }));
  assert.equal(e.type, 'error', JSON.stringify(e));
  assert.equal(e.status.code, 104);
  assert.equal(e.status.sub, 1049);
  assert.equal(e.rule, 'A3');
  assert.ok(e.message.vi);
  assert.equal(stack.sql('SELECT count(*) FROM txn'), before);
  const unknown = await c.request(sign({ signer: { msisdn: '84999999999' } }));
  assert.equal(unknown.status.code, 105);
  assert.equal(unknown.status.sub, 1052);
  await c.close();
});

test('a revoked certificate is refused 501 before any device contact', async () => {
  const c = await connect(env);
  const before = stack.sql('SELECT count(*) FROM txn');
  const e = await c.request(sign({ signer: { msisdn: REVOKED } }));
  assert.equal(e.type, 'error', JSON.stringify(e));
  assert.equal(e.status.code, 501);
  assert.equal(e.status.name, 'REVOKED_CERTIFICATE');
  assert.equal(stack.sql('SELECT count(*) FROM txn'), before);
  await c.close();
});

test('open transactions survive a gateway restart and still end once', async () => {
  let c = await connect(env);
  const a = await c.request(sign({ timeout_s: 12 }));
  assert.equal(a.type, 'accepted');
  await c.close();
  stack.stop('gateway');
  stack.start('gateway');
  c = await waitFor('gateway back', () => connect(env).catch(() => null));
  const st = await waitFor('reloaded', async () => {
    const s = await c.request({ type: 'status', id: `st-${Date.now()}`, txn: a.txn });
    return s.type !== 'error' ? s : null;
  });
  assert.equal(st.txn, a.txn); // the status of the reloaded transaction itself
  c.send({ type: 'subscribe', id: 'sub', since: { [a.txn]: 1 } });
  const r = await until(c, (f) => f.type === 'result' && f.txn === a.txn, 'result after restart');
  assert.equal(r.status.code, 208);
  assert.equal(stack.sql(`SELECT count(*) FROM txn_event WHERE txn = '${a.txn}' ` +
                         "AND state IN ('DONE','FAILED','EXPIRED','CANCELLED')"), '1');
  await c.close();
});

test('SIGKILL with 20 pending transactions, restart: all 20 end, each exactly once', async () => {
  let c = await connect(env);
  const txns = [];
  for (let i = 0; i < 20; i++) {
    const req = sign({ timeout_s: 15, signer: { msisdn: i % 2 ? SECOND : SIGNER } });
    c.send(req);
    const acc = await until(c, (f) => f.type === 'accepted' && f.id === req.id, 'accepted');
    txns.push(acc.txn);
  }
  process.kill(Number(readFileSync(path.join(stack.dir, 'gateway-1.pid'), 'utf8')), 'SIGKILL');
  await c.closed;
  stack.start('gateway-1');
  const list = txns.map((t) => `'${t}'`).join(',');
  await waitFor('all final', () =>
    stack.sql(`SELECT count(*) FROM txn WHERE id IN (${list}) AND state IN ` +
              "('DONE','FAILED','EXPIRED','CANCELLED')") === '20', 60000, 250);
  assert.equal(stack.sql(`SELECT count(*) FROM txn_event WHERE txn IN (${list}) AND state IN ` +
                         "('DONE','FAILED','EXPIRED','CANCELLED')"), '20');
  c = await waitFor('node 1 back', () => connect(env).catch(() => null));
  const r = await c.request({ type: 'status', id: 'st', txn: txns[7] });
  assert.equal(r.type, 'result');
  assert.equal(r.status.code, 208);
  await c.close();
});

test('REST: POST 202 accepted, GET 200 the latest event, DELETE 200 cancelled', async () => {
  const { type, id, ...body } = sign();
  let r = await rest('POST', '/v1/sign', body);
  assert.equal(r.status, 202, JSON.stringify(r.body));
  assert.equal(r.body.type, 'accepted');
  assert.equal(r.body.id, undefined);
  const txn = r.body.txn;
  const again = await rest('POST', '/v1/sign', body);
  assert.equal(again.status, 202);
  assert.equal(again.body.txn, txn);
  const clash = await rest('POST', '/v1/sign', { ...body, display: 'khác' });
  assert.equal(clash.status, 409);
  r = await rest('GET', `/v1/sign/${txn}`);
  assert.equal(r.status, 200);
  assert.equal(r.body.txn, txn);
  r = await rest('DELETE', `/v1/sign/${txn}`);
  assert.equal(r.status, 200);
  assert.equal(r.body.type, 'cancelled');
  r = await waitFor('final', async () => {
    const g = await rest('GET', `/v1/sign/${txn}`);
    return g.body.type === 'result' ? g : null;
  });
  assert.equal(r.status, 200);
  assert.equal(r.body.status.sub, 4014);
});

// A REST GET on a node's base URL; timeoutMs bounds the wait for the answer (a long poll that
// is not answered in time rejects).
function get(base, urlPath, timeoutMs = 10000) {
  const url = new URL(urlPath, base);
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: 'GET', ca: readFileSync(env.KYSO_CA_FILE),
                                     headers: { authorization: `Bearer ${env.KYSO_AP_KEY}` } },
                              (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers,
                                    body: JSON.parse(text) }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer to GET ${urlPath}`)));
    req.on('error', reject);
    req.end();
  });
}

const node2Http = () => new URL(env.KYSO_NODE2_WS_URL.replace(/^wss:/, 'https:')).origin;

test('REST long poll: bad waits 400, at once when changed, on the next event (this node and ' +
     'the other), the latest after the wait, a final result 200', async () => {
  const { type, id, ...body } = sign();
  const posted = await rest('POST', '/v1/sign', body);
  assert.equal(posted.status, 202, JSON.stringify(posted.body));
  const txn = posted.body.txn;
  for (const q of ['wait=61', 'wait=-1', 'wait=abc', 'wait=', 'wait=5&wait=6', 'wait=5&since=x']) {
    const bad = await get(env.KYSO_HTTP_URL, `/v1/sign/${txn}?${q}`);
    assert.deepEqual([bad.status, bad.body.type, bad.body.status.code, bad.body.status.sub],
                     [400, 'error', 101, 1011], q);
  }
  // Changed since the client's seq 0: at once (a 60 s wait would outlast the 10 s client bound).
  const now = await get(env.KYSO_HTTP_URL, `/v1/sign/${txn}?wait=60&since=0`);
  assert.equal(now.status, 200);
  assert.equal(now.body.txn, txn);
  assert.ok(now.body.seq >= 1);
  const seen = now.body.seq;
  // No change for the whole wait: the latest event, 200.
  const idle = await get(env.KYSO_HTTP_URL, `/v1/sign/${txn}?wait=1&since=${seen}`);
  assert.equal(idle.status, 200);
  assert.equal(idle.body.seq, seen);
  assert.equal(idle.body.txn, txn);
  // Waiting on node 1 (which runs it) and on node 2 (its NOTIFY): the next event answers both.
  const here = get(env.KYSO_HTTP_URL, `/v1/sign/${txn}?wait=60&since=${seen}`, 70000);
  const there = get(node2Http(), `/v1/sign/${txn}?wait=60&since=${seen}`, 70000);
  const cancelled = await rest('DELETE', `/v1/sign/${txn}`);
  assert.equal(cancelled.body.type, 'cancelled');
  for (const r of await Promise.all([here, there])) {
    assert.equal(r.status, 200);
    assert.equal(r.body.type, 'result');
    assert.equal(r.body.txn, txn);
    assert.equal(r.body.seq, seen + 1);
    assert.deepEqual([r.body.status.code, r.body.status.sub], [401, 4014]);
  }
  // Final: 200 at once whatever the wait and since.
  for (const base of [env.KYSO_HTTP_URL, node2Http()]) {
    const fin = await get(base, `/v1/sign/${txn}?wait=60&since=${seen + 5}`);
    assert.equal(fin.status, 200);
    assert.equal(fin.body.type, 'result');
  }
});

test('REST long poll: one over limits.rest_polls is 503 900/9005 (the key reloads on SIGHUP)',
     async () => {
  const conf = env.KYSO_GATEWAY_CONFIG;
  const original = readFileSync(conf, 'utf8');
  const pid = Number(readFileSync(path.join(stack.dir, 'gateway-1.pid'), 'utf8'));
  const reloads = () => stack.gatewayLog().split('configuration reloaded').length;
  const reload = async (text) => {
    const before = reloads();
    writeFileSync(conf, text, { mode: 0o600 });
    process.kill(pid, 'SIGHUP');
    await waitFor('the reload', () => reloads() > before);
  };
  const limited = original.replace('"auth_failures_per_minute": 1000',
                                   '"auth_failures_per_minute": 1000, "rest_polls": 1');
  assert.notEqual(limited, original);
  const { type, id, ...body } = sign();
  const txn = (await rest('POST', '/v1/sign', body)).body.txn;
  const seen = (await get(env.KYSO_HTTP_URL, `/v1/sign/${txn}`)).body.seq;
  await reload(limited);
  try {
    const polls = [1, 2].map(() => get(env.KYSO_HTTP_URL, `/v1/sign/${txn}?wait=30&since=${seen}`,
                                       40000));
    // One waits, the other is refused at once; the cancel answers the waiting one.
    const refused = await Promise.race(polls);
    assert.deepEqual([refused.status, refused.body.status.code, refused.body.status.sub],
                     [503, 900, 9005], JSON.stringify(refused.body));
    assert.equal(refused.headers['retry-after'], '5');
    await rest('DELETE', `/v1/sign/${txn}`);
    const answers = await Promise.all(polls);
    assert.deepEqual(answers.map((a) => a.status).sort(), [200, 503]);
    assert.equal(answers.find((a) => a.status === 200).body.type, 'result');
  } finally {
    await reload(original);
  }
});

test('two nodes: a session on node 2 follows a transaction node 1 runs (LISTEN/NOTIFY)', async () => {
  const env2 = { ...env, KYSO_WS_URL: env.KYSO_NODE2_WS_URL };
  const a = await connect(env);
  const b = await connect(env2);
  const acc = await a.request(sign());
  assert.equal(acc.type, 'accepted');
  const ack = await b.request({ type: 'subscribe', id: 'sub', since: { [acc.txn]: 1 } });
  assert.equal(ack.type, 'subscribed');
  b.send({ type: 'status', id: 'st', txn: acc.txn });
  const st = await until(b, (f) => f.id === 'st', 'status');
  assert.equal(st.type, 'progress');
  assert.equal(st.status.code, 504);
  b.send({ type: 'cancel', id: 'cn2', txn: acc.txn });
  const elsewhere = await until(b, (f) => f.id === 'cn2' || f.type === 'error', 'cancel');
  assert.equal(elsewhere.type, 'error');
  assert.equal(elsewhere.status.sub, 9002);
  a.send({ type: 'cancel', id: 'cn1', txn: acc.txn });
  const r = await until(b, (f) => f.type === 'result', 'pushed by node 2');
  assert.equal(r.txn, acc.txn);
  assert.ok(r.seq >= 2);
  assert.equal(r.status.sub, 4014);
  await a.close();
  await b.close();
});

test('kysoctl audit verify is OK after all of it', () => {
  assert.equal(stack.kysoctlStatus('audit', 'verify'), 0);
});
