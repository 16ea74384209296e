// Integration: PostgreSQL and the MQTT broker going away and coming back while clients are
// connected. Nothing crashes, nothing acknowledged is lost, the loop keeps answering.
import test from 'node:test';
import assert from 'node:assert/strict';
import { Stack, connect, httpGet, waitFor, MqttProbe } from './lib/stack.mjs';

const stack = new Stack({ name: 'resilience' });
let env;

test.before(() => { env = stack.up().env; });
test.after(() => stack.down());

async function pingLatencies(clients, rounds) {
  const worst = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    await Promise.all(clients.map((c, i) => c.request({ type: 'ping', id: `l${r}-${i}` })));
    worst.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return Math.max(...worst);
}

// Makes `n` error answers whose ids carry `tag`, so the test can find their node events.
async function makeErrors(client, tag, n) {
  for (let i = 0; i < n; i++) {
    const e = await client.request({ type: 'no-such-type', id: `${tag}-${i}` });
    assert.equal(e.status.code, 101);
  }
}

function storedErrors(tag) {
  return Number(stack.sql(
    `select count(*) from node_event where kind='error' and detail->>'id' like '${tag}-%'`));
}

test('PostgreSQL stopped and started while clients are connected', async () => {
  const clients = await Promise.all(Array.from({ length: 20 }, () => connect(env)));
  stack.stop('pg');
  await waitFor('readyz false', async () => (await httpGet(env, '/readyz')).status === 503);
  // The loop still answers, and what happens meanwhile is kept for the database.
  const worst = await pingLatencies(clients, 10);
  assert.ok(worst < 1000, `ping round trips took up to ${worst} ms during the outage`);
  await makeErrors(clients[0], 'pgdown', 25);
  const late = await connect(env); // authentication does not need the database
  await late.close();
  stack.start('pg');
  await waitFor('readyz true', async () => (await httpGet(env, '/readyz')).status === 200, 60000);
  await waitFor('events from the outage stored', () => storedErrors('pgdown') === 25, 30000);
  await Promise.all(clients.map((c) => c.close()));
  assert.match(stack.kysoctl('audit', 'verify'), /audit OK/);
  assert.doesNotMatch(stack.gatewayLog(), /AddressSanitizer|runtime error|assertion failed/);
});

test('broker stopped and restarted: the outbox drains and nothing is lost', async () => {
  // A persistent subscriber session survives the broker's restart (it saves sessions on exit).
  const probe = new MqttProbe(env, 'kyso/v1/node/+/error', { persistent: 'kyso-it-probe' });
  await waitFor('probe subscribed', () => probe.ready());
  const c = await connect(env);
  stack.stop('mqtt');
  const t0 = Date.now();
  await makeErrors(c, 'mqdown', 50);
  const worst = await pingLatencies([c], 20);
  assert.ok(worst < 500, `ping round trips took up to ${worst} ms with the broker down`);
  assert.ok(Date.now() - t0 < 15000);
  await waitFor('rows waiting in the outbox', () =>
    Number(stack.sql("select count(*) from outbox where topic like '%/error'")) >= 50);
  stack.start('mqtt');
  await waitFor('outbox drained', () => stack.sql('select count(*) from outbox') === '0', 60000);
  await waitFor('every event delivered', () => {
    const ids = new Set(probe.messages().map((m) => m.msg && m.msg.detail && m.msg.detail.id)
      .filter((id) => id && id.startsWith('mqdown-')));
    return ids.size === 50;
  }, 30000);
  probe.stop();
  await c.close();
  assert.doesNotMatch(stack.gatewayLog(), /AddressSanitizer|runtime error|assertion failed/);
});
