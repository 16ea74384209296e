// Integration: the gateway's authenticated WebSocket, framing limits, node events and audit,
// on the real stack (PostgreSQL, mosquitto, kyso-gateway started by deploy/stack).
import test from 'node:test';
import assert from 'node:assert/strict';
import { Stack, connect, httpGet, metricValue, waitFor, MqttProbe } from './lib/stack.mjs';

// No token agent: its own /v1/agent session would count in the connection and event totals here.
const stack = new Stack({ name: 'gateway', args: ['--skip', 'pcsc,agent'] });
let env;

test.before(() => { env = stack.up().env; });
test.after(() => stack.down());

test('an AP with its key connects and gets pong for ping', async () => {
  const c = await connect(env);
  const pong = await c.request({ type: 'ping', id: 'p-1' });
  assert.equal(pong.type, 'pong');
  assert.equal(pong.id, 'p-1');
  assert.match(pong.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  await c.close();
});

test('missing, malformed and wrong keys get HTTP 401 with the same body', async () => {
  const good = env.KYSO_AP_KEY;
  const wrongSecret = good.slice(0, -1) + (good.endsWith('0') ? '1' : '0');
  for (const key of [null, 'nonsense', 'kyso_demo-ap_1234', wrongSecret,
                     'kyso_nobody_' + '0'.repeat(64)]) {
    await assert.rejects(connect(env, { key }), (e) => {
      assert.equal(e.status, 401, `key ${key}`);
      assert.deepEqual(JSON.parse(e.body), { error: 'unauthorized' });
      return true;
    });
  }
});

test('an operator key cannot open the AP endpoint', async () => {
  await assert.rejects(connect(env, { key: env.KYSO_OPERATOR_KEY }), (e) => e.status === 403);
});

test('a revoked client is refused after the directory reloads', async () => {
  const key = stack.kysoctl('client', 'add', '--id', 'short-lived', '--role', 'ap',
                            '--org', env.KYSO_DEMO_ORG).trim();
  assert.match(key, /^kyso_short-lived_[0-9a-f]{64}$/);
  const c = await waitFor('new client accepted', () => connect(env, { key }).catch(() => null));
  await c.close();
  stack.kysoctl('client', 'revoke', 'short-lived');
  await waitFor('revoked client refused', () =>
    connect(env, { key }).then((x) => { x.close(); return false; },
                               (e) => e.status === 401));
});

test('a frame that is not JSON gets 101/1018 and the socket stays open', async () => {
  const c = await connect(env);
  for (const bad of ['{not json', '[1,2]', '"text"', '{"type":"ping","id":"a","id":"b"}']) {
    const e = await c.request(bad);
    assert.equal(e.type, 'error', bad);
    assert.equal(e.status.code, 101);
    assert.equal(e.status.sub, 1018);
    assert.equal(e.status.name, 'WRONG_PARAM');
  }
  const pong = await c.request({ type: 'ping', id: 'after-garbage' });
  assert.equal(pong.id, 'after-garbage');
  await c.close();
});

test('missing type, missing id, bad id and unknown type have defined answers', async () => {
  const c = await connect(env);
  let e = await c.request({ id: 'x1' });
  assert.deepEqual([e.status.code, e.id], [102, 'x1']);
  e = await c.request({ type: 'ping' });
  assert.equal(e.status.code, 102);
  e = await c.request({ type: 'ping', id: 'x'.repeat(65) });
  assert.deepEqual([e.status.code, e.status.sub], [101, 1011]);
  e = await c.request({ type: 'launch', id: 'x2' });
  assert.deepEqual([e.status.code, e.status.sub, e.id], [101, 1011, 'x2']);
  await c.close();
});

test('a binary frame is refused with an error and the socket stays open', async () => {
  const c = await connect(env);
  c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
  const e = await c.next();
  assert.deepEqual([e.type, e.status.code, e.status.sub], ['error', 101, 1018]);
  assert.equal((await c.request({ type: 'ping', id: 'b' })).type, 'pong');
  await c.close();
});

test('a frame over the limit gets 103; over the hard cap the socket closes with 1009', async () => {
  const c = await connect(env);
  const big = JSON.stringify({ type: 'ping', id: 'big', pad: 'x'.repeat(70000) });
  const e = await c.request(big);
  assert.deepEqual([e.type, e.status.code, e.status.name], ['error', 103, 'WRONG_DATA_LENGTH']);
  assert.equal((await c.request({ type: 'ping', id: 'still-open' })).id, 'still-open');
  c.send('x'.repeat(1100000));
  const closed = await c.closed;
  assert.equal(closed.code, 1009);
});

test('health, readiness and operator-only metrics', async () => {
  assert.equal((await httpGet(env, '/healthz')).status, 200);
  const ready = await httpGet(env, '/readyz');
  assert.equal(ready.status, 200);
  assert.equal(JSON.parse(ready.body).ready, true);
  assert.equal((await httpGet(env, '/metrics')).status, 401);
  assert.equal((await httpGet(env, '/metrics',
    { Authorization: `Bearer ${env.KYSO_AP_KEY}` })).status, 401);
  const m = await httpGet(env, '/metrics', { Authorization: `Bearer ${env.KYSO_OPERATOR_KEY}` });
  assert.equal(m.status, 200);
  for (const name of ['kyso_connections', 'kyso_frames_received_total', 'kyso_db_queue_depth',
                      'kyso_mqtt_outbox_depth', 'kyso_db_commit_seconds_count'])
    assert.notEqual(metricValue(m.body, name), undefined, name);
  assert.match(m.body, /kyso_errors_total\{code="101",sub="1018"\} \d+/);
  assert.match(m.body, /kyso_db_commit_seconds_bucket\{le="\+Inf"\} \d+/);
});

test('connections, auth failures and errors become node events in PostgreSQL and on MQTT',
     async () => {
  // Earlier tests' events (102 errors among them) may still sit in the outbox on a loaded
  // machine: let them go out before subscribing, so the probe sees this test's events only.
  await waitFor('earlier events published', () => stack.sql('select count(*) from outbox') === '0');
  const probe = new MqttProbe(env, 'kyso/v1/node/+/+');
  await waitFor('probe subscribed', () => probe.ready());
  const count = (kind) =>
    Number(stack.sql(`select count(*) from node_event where kind='${kind}'`));
  const before = { open: count('conn.open'), close: count('conn.close'),
                   auth: count('auth.fail'), error: count('error') };
  const c = await connect(env);
  await c.request('{oops');
  await c.close();
  await assert.rejects(connect(env, { key: 'kyso_x_' + 'f'.repeat(64) }));
  // This test's own events, counted: earlier tests' auth failures and errors are in the table
  // too, so a kind being present proves nothing.
  await waitFor('events committed', () =>
    count('conn.open') === before.open + 1 && count('conn.close') >= before.close + 1 &&
    count('auth.fail') >= before.auth + 1 && count('error') >= before.error + 1);
  assert.equal(count('conn.open'), before.open + 1);
  assert.equal(count('auth.fail'), before.auth + 1);
  assert.equal(count('error'), before.error + 1);
  await waitFor('MQTT conn, auth and error topics', () => {
    const topics = new Set(probe.messages().map((m) => m.topic.split('/').pop()));
    return topics.has('conn') && topics.has('auth') && topics.has('error');
  });
  // Earlier tests' error events may still be leaving the outbox: look for this one's (101).
  try {
    const err = await waitFor('the 101 error on MQTT', () =>
      probe.messages((l) => l.topic.endsWith('/error'))
        .map((m) => m.msg).find((m) => m && m.detail && m.detail.code === 101));
    assert.equal(err.kind, 'error');
  } finally {
    probe.stop();
  }
  await waitFor('outbox drained', () => stack.sql('select count(*) from outbox') === '0');
});

test('1,000 connections open and close cleanly', async () => {
  const N = 1000;
  const clients = [];
  for (let i = 0; i < N; i += 100) {
    const batch = [];
    for (let j = i; j < i + 100; j++) batch.push(connect(env));
    clients.push(...await Promise.all(batch));
  }
  const pongs = await Promise.all(clients.map((c, i) => c.request({ type: 'ping', id: `m${i}` })));
  pongs.forEach((p, i) => assert.equal(p.id, `m${i}`));
  const op = { Authorization: `Bearer ${env.KYSO_OPERATOR_KEY}` };
  let m = await httpGet(env, '/metrics', op);
  assert.ok(metricValue(m.body, 'kyso_connections') >= N);
  await Promise.all(clients.map((c) => c.close()));
  await waitFor('all sessions closed', async () => {
    m = await httpGet(env, '/metrics', op);
    return metricValue(m.body, 'kyso_connections') === 0;
  });
  await waitFor('close events stored', () =>
    Number(stack.sql("select count(*) from node_event where kind='conn.close'")) >= N);
  assert.match(stack.gatewayLog(), /listening/);
});

test('kysoctl audit verify passes, then finds a row edited by hand', async () => {
  assert.match(stack.kysoctl('audit', 'verify'), /audit OK/);
  const id = stack.sql("select id from node_event where kind='conn.open' order by id limit 1 offset 3");
  const chainPos = stack.sql(`select chain || ' ' || pos from node_event where id=${id}`);
  stack.sql('alter table node_event disable trigger user');
  stack.sql(`update node_event set peer='10.9.9.9' where id=${id}`);
  stack.sql('alter table node_event enable trigger user');
  let out = '';
  let status = 0;
  try { stack.kysoctl('audit', 'verify'); } catch (e) { out = e.stdout; status = e.status; }
  assert.equal(status, 1);
  const [chain, pos] = chainPos.split(' ');
  assert.match(out, /audit BROKEN/);
  assert.ok(out.includes(`chain ${chain} position ${pos}`), out);
});
