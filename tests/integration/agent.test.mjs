// Integration: the gateway's /v1/agent on the real stack (PROTOCOL.md 2 and 7): who may open
// it, the agent registry's node events (connect, hello, tokens, gone), protocol violations,
// and the real kyso-pcsc-agent (software test token) reconnecting after it was killed and
// after a gateway restart. Signing through the token needs the transaction engine and the
// PC/SC component: see docs/pcsc-agent.md for the tests that come with them.
import test from 'node:test';
import assert from 'node:assert/strict';
import { Stack, connect, waitFor, MqttProbe } from './lib/stack.mjs';
import { AgentFiles, Agent } from './lib/agent.mjs';

const stack = new Stack({ name: 'agent' });
const files = new AgentFiles();
let env;
let agentEnv;

test.before(() => {
  env = stack.up().env;
  agentEnv = { ...env, KYSO_WS_URL: env.KYSO_WS_URL.replace(/\/v1\/ws$/, '/v1/agent') };
});
test.after(() => { stack.down(); files.remove(); });

function events(kind, agentId) {
  const out = stack.sql(`select detail::text from node_event where kind = '${kind}' ` +
                        `and detail->>'agent_id' = '${agentId}' order by id`);
  return out === '' ? [] : out.split('\n').map((l) => JSON.parse(l));
}

function startAgent(agentId) {
  return new Agent(['--url', agentEnv.KYSO_WS_URL, '--ca', env.KYSO_CA_FILE,
                    '--agent-id', agentId, '--pin-source', 'pin-file',
                    '--pin-file', files.pinFile(`pin-${agentId}`, '123456'),
                    '--soft-token', files.soft('rsa', ',serial=50F7A6E401')],
                   { KYSO_AGENT_KEY: env.KYSO_AGENT_KEY });
}

test('only an agent key with kyso.agent.v1 opens /v1/agent', async () => {
  const c = await connect(agentEnv, { key: env.KYSO_AGENT_KEY, protocol: 'kyso.agent.v1' });
  await c.close();
  for (const [key, status] of [[null, 401], ['kyso_nobody_' + '0'.repeat(64), 401],
                               [env.KYSO_AP_KEY, 403], [env.KYSO_OPERATOR_KEY, 403]]) {
    await assert.rejects(connect(agentEnv, { key, protocol: 'kyso.agent.v1' }),
                         (e) => e.status === status, `key ${key}`);
  }
  await assert.rejects(connect(agentEnv, { key: env.KYSO_AGENT_KEY, protocol: 'kyso.v1' }),
                       (e) => e.status === 400);
  // And an agent key does not open the AP endpoint.
  await assert.rejects(connect(env, { key: env.KYSO_AGENT_KEY }), (e) => e.status === 403);
});

test('anything but hello first closes the session with 1008', async () => {
  for (const first of ['not json', JSON.stringify({ type: 'taken', job: 'j' }),
                       JSON.stringify({ type: 'sign', job: 'j' })]) {
    const c = await connect(agentEnv, { key: env.KYSO_AGENT_KEY, protocol: 'kyso.agent.v1' });
    c.send(first);
    assert.equal((await c.closed).code, 1008, first);
  }
});

test('after hello a bad frame is ignored and ping gets pong', async () => {
  const c = await connect(agentEnv, { key: env.KYSO_AGENT_KEY, protocol: 'kyso.agent.v1' });
  c.send({ type: 'hello', agent_id: 'raw-1', version: 'test' });
  c.send({ type: 'tokens', seq: 1, tokens: [{ token_id: 't' }] }); // incomplete: refused
  c.send({ type: 'signed', job: 'nobody', key_id: 'ab'.repeat(32), signature: 'AQID' }); // late
  const pong = await c.request({ type: 'ping', id: 'r1', time: '2026-11-22T10:15:30Z' });
  assert.deepEqual([pong.type, pong.id], ['pong', 'r1']);
  await waitFor('refusal and late answer recorded', () =>
    events('agent.refused', 'raw-1').length >= 1 && events('agent.late', 'raw-1').length === 1);
  await c.close();
});

test('the agent announces its token; killed, it is gone; restarted, it announces again',
     async () => {
  const probe = new MqttProbe(env, 'kyso/v1/agent/#');
  await waitFor('subscribed', () => probe.ready());
  let agent = startAgent('it-pc-2');
  const first = await waitFor('tokens event', () => events('agent.tokens', 'it-pc-2')[0]);
  assert.equal(first.tokens[0].serial, '50F7A6E401');
  // PROTOCOL.md 8: agent and token changes on kyso/v1/agent/<agent_id>.
  const published = await waitFor('MQTT agent topic', () => {
    const m = probe.messages((l) => l.topic === 'kyso/v1/agent/it-pc-2');
    return m.some((x) => x.msg.kind === 'agent.tokens') ? m : null;
  });
  assert.ok(published.some((x) => x.msg.kind === 'agent.hello'));
  probe.stop();
  const hello = events('agent.hello', 'it-pc-2')[0];
  assert.deepEqual(hello.pin_sources, ['pin-file']);
  await agent.kill('SIGKILL');
  await waitFor('gone event', () => events('agent.gone', 'it-pc-2').length === 1);
  agent = startAgent('it-pc-2');
  await waitFor('second tokens event', () => events('agent.tokens', 'it-pc-2').length === 2);
  await agent.kill();
});

test('a gateway restart: the agent reconnects with back-off and announces again', async () => {
  const agent = startAgent('it-pc-3');
  await waitFor('tokens event', () => events('agent.tokens', 'it-pc-3').length === 1);
  stack.stop('gateway');
  stack.start('gateway');
  await waitFor('announced again', () => events('agent.tokens', 'it-pc-3').length === 2, 60000);
  await agent.kill();
  assert.match(agent.log, /reconnecting/);
});
