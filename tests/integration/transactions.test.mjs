// Integration: sign, status, cancel and subscribe answers that need no device (PROTOCOL.md
// sections 4-5), on the real stack: refusals are `error` frames with their codes, no txn row,
// one node event each, and nothing reaches a device.
import test from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { Stack, connect, waitFor } from './lib/stack.mjs';

const stack = new Stack({ name: 'transactions' });
let env;

test.before(() => { env = stack.up().env; });
test.after(() => stack.down());

const D256 = '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='; // SHA-256 of ""

function sign(id, over = {}, docOver = {}) {
  const req = {
    type: 'sign', id, ap_trans_id: `it-${id}`, signer: { msisdn: '84900000001' },
    channel: 'sim', mode: 'approve',
    document: { digest: D256, digest_alg: 'SHA-256', org: env.KYSO_DEMO_ORG, secrecy: 'none',
                ...docOver },
    display: 'Ký duyệt QĐ 123/QĐ-UBND', format: 'pkcs1', timeout_s: 60, ...over,
  };
  for (const [k, v] of Object.entries(over)) if (v === undefined) delete req[k];
  for (const [k, v] of Object.entries(docOver)) if (v === undefined) delete req.document[k];
  return req;
}

// REST (PROTOCOL.md section 6): {status, headers, body (parsed JSON)}.
function rest(method, urlPath, body, key = env.KYSO_AP_KEY) {
  const url = new URL(urlPath, env.KYSO_HTTP_URL);
  const data = body === undefined ? undefined
    : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const headers = { 'content-type': 'application/json' };
    if (key) headers.authorization = `Bearer ${key}`;
    if (data !== undefined) headers['content-length'] = Buffer.byteLength(data);
    const req = https.request(url, { method, headers, ca: readFileSync(env.KYSO_CA_FILE),
                                     timeout: 10000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers,
                                    body: text ? JSON.parse(text) : null }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    if (data !== undefined) req.write(data);
    req.end();
  });
}

function txnRows() { return Number(stack.sql('SELECT count(*) FROM txn')); }

test('field errors answer the request id with the PROTOCOL.md code', async () => {
  const c = await connect(env);
  const cases = [
    [sign('f1', { ap_trans_id: undefined }), 102, undefined],
    [sign('f2', { mode: 'stamp' }), 101, 1011],
    [sign('f3', { signer: { msisdn: '+84900000001' } }), 101, 1011],
    [sign('f4', {}, { digest: 'AAAA' }), 101, 1011],
    [sign('f5', {}, { digest_alg: 'MD5' }), 101, 1011],
    [sign('f6', { timeout_s: 5 }), 101, 1011],
    [sign('f7', { display: undefined }), 102, undefined],
    [sign('f8', { format: 'xml' }), 101, 1011],
  ];
  for (const [req, code, sub] of cases) {
    const e = await c.request(req);
    assert.equal(e.type, 'error', req.id);
    assert.equal(e.id, req.id);
    assert.equal(e.status.code, code, `${req.id}: ${JSON.stringify(e.status)}`);
    assert.equal(e.status.sub, sub, req.id);
  }
  assert.equal(txnRows(), 0);
  await c.close();
});

test('a secret document is refused 107/1071 under A1, with no transaction', async () => {
  const c = await connect(env);
  for (const level of ['mat', 'toi_mat', 'tuyet_mat']) {
    const e = await c.request(sign(`s-${level}`, {}, { secrecy: level }));
    assert.equal(e.type, 'error');
    assert.equal(e.status.code, 107);
    assert.equal(e.status.sub, 1071);
    assert.equal(e.status.name, 'INAPPROPRIATE_DATA');
    assert.equal(e.rule, 'A1');
    assert.equal(e.reason, 'STATE_SECRET_REFUSED');
    assert.ok(e.message.vi && e.message.en);
  }
  const missing = await c.request(sign('s-missing', {}, { secrecy: undefined }));
  assert.equal(missing.status.code, 102);
  assert.equal(missing.reason, 'SECRECY_LEVEL_MISSING');
  assert.equal(txnRows(), 0);
  // Only the refusal is stored: one node event per refusal (found by request id), no digest in
  // any of them.
  const ours = "kind = 'error' AND detail->>'id' IN " +
               "('s-mat', 's-toi_mat', 's-tuyet_mat', 's-missing')";
  await waitFor('refusals logged', () =>
    Number(stack.sql(`SELECT count(*) FROM node_event WHERE ${ours}`)) >= 4);
  assert.equal(stack.sql(`SELECT string_agg(detail->>'id' || ' ' || (detail->>'code'), ',' ` +
                         `ORDER BY detail->>'id') FROM node_event WHERE ${ours}`),
               's-mat 107,s-missing 102,s-toi_mat 107,s-tuyet_mat 107');
  const logged = stack.sql(`SELECT detail::text FROM node_event WHERE ${ours}`);
  assert.ok(!logged.includes(D256));
  await c.close();
});

test('a display too long for the SMS budget in UCS-2 is 103; 200 GSM-7 is too', async () => {
  const c = await connect(env);
  // Vietnamese diacritics force UCS-2: about 94 characters fit 2 SMS with prefix and code.
  const ucs2 = 'Ký duyệt quyết định số 123/QĐ-UBND về việc phê duyệt kế hoạch năm 2026 ' +
               'của Ủy ban nhân dân tỉnh Đồng Nai';
  assert.ok([...ucs2].length < 200);
  let e = await c.request(sign('d1', { display: ucs2 }));
  assert.equal(e.type, 'error');
  assert.equal(e.status.code, 103);
  assert.match(e.status.detail, /UCS-2/);
  e = await c.request(sign('d2', { display: 'x'.repeat(201) }));
  assert.equal(e.status.code, 103);
  assert.equal(txnRows(), 0);
  await c.close();
});

test('an organisation the AP is not bound to is 104', async () => {
  const c = await connect(env);
  const e = await c.request(sign('o1', {}, { org: 'some-other-org' }));
  assert.equal(e.type, 'error');
  assert.equal(e.status.code, 104);
  assert.equal(e.status.sub, undefined);
  await c.close();
});

test('status and cancel of an unknown transaction are 101/1013', async () => {
  const c = await connect(env);
  const unknown = '0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b';
  for (const type of ['status', 'cancel']) {
    const e = await c.request({ type, id: `${type}-1`, txn: unknown });
    assert.equal(e.type, 'error');
    assert.equal(e.id, `${type}-1`);
    assert.equal(e.status.code, 101);
    assert.equal(e.status.sub, 1013);
  }
  const bad = await c.request({ type: 'status', id: 'st-2', txn: '../../etc/passwd' });
  assert.equal(bad.status.sub, 1013);
  const missing = await c.request({ type: 'cancel', id: 'cn-3' });
  assert.equal(missing.status.code, 102);
  await c.close();
});

test('subscribe is acknowledged; an unknown transaction in it is 101/1013', async () => {
  const c = await connect(env);
  const ok = await c.request({ type: 'subscribe', id: 'sub-1', since: {} });
  assert.equal(ok.type, 'subscribed');
  assert.equal(ok.id, 'sub-1');
  const ack = await c.request({ type: 'subscribe', id: 'sub-2',
                                since: { '0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b': 0 } });
  assert.equal(ack.type, 'subscribed');
  const e = await c.next();
  assert.equal(e.type, 'error');
  assert.equal(e.status.sub, 1013);
  const bad = await c.request({ type: 'subscribe', id: 'sub-3', since: { x: -1 } });
  assert.equal(bad.status.code, 101);
  await c.close();
});

test('REST: refusals carry the section 6 HTTP status and the error body', async () => {
  const body = (over, docOver) => { const r = sign('r', over, docOver); delete r.type;
                                    delete r.id; return r; };
  let r = await rest('POST', '/v1/sign', body({}, { secrecy: 'tuyet_mat' }));
  assert.equal(r.status, 422);
  assert.equal(r.body.type, 'error');
  assert.equal(r.body.status.code, 107);
  assert.equal(r.body.rule, 'A1');
  r = await rest('POST', '/v1/sign', '{not json');
  assert.equal(r.status, 400);
  assert.equal(r.body.status.sub, 1018);
  r = await rest('POST', '/v1/sign', body({ mode: undefined }));
  assert.equal(r.status, 400);
  assert.equal(r.body.status.code, 102);
  r = await rest('POST', '/v1/sign', body({}, { org: 'not-mine' }));
  assert.equal(r.status, 403);
  const unknown = '0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b';
  r = await rest('GET', `/v1/sign/${unknown}`);
  assert.equal(r.status, 404);
  assert.equal(r.body.status.sub, 1013);
  r = await rest('DELETE', `/v1/sign/${unknown}`);
  assert.equal(r.status, 404);
  r = await rest('POST', '/v1/sign', body(), null);
  assert.equal(r.status, 401);
  assert.deepEqual(r.body, { error: 'unauthorized' });
  r = await rest('PUT', '/v1/sign', body());
  assert.equal(r.status, 405);
  assert.equal(txnRows(), 0);
});

test('sign with PostgreSQL stopped is 900/9002 at once', async () => {
  const c = await connect(env);
  stack.stop('pg');
  try {
    const e = await waitFor('900/9002', async () => {
      const r = await c.request(sign(`pg-${Date.now()}`));
      return r.status && r.status.code === 900 ? r : null;
    });
    assert.equal(e.status.sub, 9002);
    const r = await rest('POST', '/v1/sign', (({ type, id, ...b }) => b)(sign('pg-rest')));
    assert.equal(r.status, 503);
    assert.equal(r.headers['retry-after'], '5');
    assert.equal(r.body.status.sub, 9002);
  } finally {
    stack.start('pg');
  }
  await c.close();
});
