// Integration: kyso-pcsc-agent on real PC/SC (pcscd + vpcd + kyso-vcard, the stack's pcsc
// component) with the PC/SC backend (PCSC.md 1, 3, 5): the stack's agent announces both demo
// tokens to the gateway; a second agent in the same namespace, against a scripted gateway peer,
// signs with the official's RSA token and the clerk's P-256 seal token (signatures checked with
// node's crypto against the cards' certificates), reports a wrong PIN with its tries left,
// fails 209/2092 when the card is pulled during signing and announces the card again when it
// returns, withdraws and announces the cards again when pcscd restarts, and reports 402/4021
// once the PIN is blocked.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, createPublicKey, randomBytes, verify } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Stack, waitFor } from './lib/stack.mjs';
import { GatewayPeer, agentBin } from './lib/agent.mjs';

const KEY = `kyso_it-agent_${'cd'.repeat(32)}`;
const stack = new Stack({ name: 'agent-token' });
let env;
let dir;

test.before(() => {
  env = stack.up().env;
  dir = mkdtempSync(path.join(tmpdir(), 'kyso-agent-token-'));
});
test.after(() => { stack.down(); rmSync(dir, { recursive: true, force: true }); });

function pinFile(pin) {
  const f = path.join(dir, `pin-${pin}`);
  writeFileSync(f, `${pin}\n`);
  chmodSync(f, 0o600);
  return f;
}

function der(pemFile) {
  const pem = readFileSync(pemFile, 'utf8');
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

const keyId = (pemFile) => createHash('sha256').update(der(pemFile)).digest('hex');

// An agent inside the stack's PC/SC namespace, talking to a scripted gateway.
async function agentInNamespace(t, pin) {
  const gw = new GatewayPeer(KEY);
  await gw.listening;
  const proc = spawn('nsenter', ['--target', env.KYSO_PCSC_NS_PID, '--mount', '--root', agentBin(),
                                 '--url', gw.url(), '--agent-id', 'it-token-pc',
                                 '--backend', 'pcsc', '--pin-source', 'pin-file',
                                 '--pin-file', pinFile(pin)],
                     { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, KYSO_AGENT_KEY: KEY } });
  let log = '';
  proc.stderr.on('data', (d) => { log += d; });
  const exited = new Promise((r) => proc.on('exit', r));
  t.after(async () => { proc.kill('SIGTERM'); await exited; await gw.close(); });
  await gw.next('hello');
  await gw.next('tokens', (f) => f.tokens.length === 2, 15000);
  return { gw, log: () => log };
}

function sign(gw, job, pemFile, alg, data, deadlineMs = 15000) {
  gw.send({ type: 'sign', job, key_id: keyId(pemFile), alg,
            hash: createHash('sha256').update(data).digest('base64'),
            display: '4821 Ký duyệt QĐ 123/QĐ-UBND', deadline_ms: deadlineMs });
}

test('the stack agent announced both demo tokens to the gateway', async () => {
  const row = await waitFor('tokens event', () => stack.sql(
    "select detail::text from node_event where kind = 'agent.tokens' and " +
    "detail->>'agent_id' = 'stack-agent-1' order by id desc limit 1"));
  const detail = JSON.parse(row);
  assert.equal(detail.tokens.length, 2);
  assert.deepEqual(detail.tokens.map((x) => x.reader).sort(),
                   [env.KYSO_VCARD1_READER, env.KYSO_VCARD2_READER].sort());
});

test('RSA on the official token and ECDSA on the clerk token verify', async (t) => {
  const { gw } = await agentInNamespace(t, '123456');
  for (const [job, pem, alg, dsa] of [['rsa-1', env.KYSO_VCARD1_CERT, 'rsa-pkcs1-sha256', undefined],
                                      ['ec-1', env.KYSO_VCARD2_CERT, 'ecdsa-p256-sha256', 'der']]) {
    const data = randomBytes(64);
    sign(gw, job, pem, alg, data);
    await gw.next('taken', (f) => f.job === job);
    await gw.next('prompt', (f) => f.job === job);
    const s = await gw.next('signed', (f) => f.job === job, 15000);
    const pub = createPublicKey(readFileSync(pem));
    assert.ok(verify('sha256', data, dsa ? { key: pub, dsaEncoding: dsa } : pub,
                     Buffer.from(s.signature, 'base64')), `${alg} verifies`);
  }
});

test('a wrong PIN from the PIN file: 401/4015 with the tries left; the right one resets',
     async (t) => {
  {
    const { gw } = await agentInNamespace(t, '999999');
    sign(gw, 'w-1', env.KYSO_VCARD1_CERT, 'rsa-pkcs1-sha256', 'doc');
    const f = await gw.next('failed', (m) => m.job === 'w-1', 15000);
    assert.deepEqual([f.code, f.sub, f.retries_left, f.sw], [401, 4015, 2, '63C2']);
  }
  const { gw } = await agentInNamespace(t, '123456');
  sign(gw, 'ok-1', env.KYSO_VCARD1_CERT, 'rsa-pkcs1-sha256', 'doc');
  await gw.next('signed', (m) => m.job === 'ok-1', 15000);
});

test('card pulled during signing: 209/2092, then the card is announced again', async (t) => {
  const { gw } = await agentInNamespace(t, '123456');
  process.env.KYSO_VCARD1_EXTRA = '--sign-delay-ms 1500';
  stack.stop('vcard-1');
  stack.start('vcard-1');
  await gw.next('tokens', (f) => f.tokens.length === 2, 15000);
  sign(gw, 'pull-1', env.KYSO_VCARD1_CERT, 'rsa-pkcs1-sha256', 'doc');
  await gw.next('prompt', (m) => m.job === 'pull-1');
  stack.stop('vcard-1');
  const f = await gw.next('failed', (m) => m.job === 'pull-1', 15000);
  assert.deepEqual([f.code, f.sub], [209, 2092]);
  delete process.env.KYSO_VCARD1_EXTRA;
  stack.start('vcard-1');
  await gw.next('tokens', (x) => x.tokens.length === 2, 15000);
});

test('pcscd restarted: the agent withdraws the cards, announces them again and signs',
     async (t) => {
  const { gw } = await agentInNamespace(t, '123456');
  gw.frames = gw.frames.filter((f) => f.type !== 'tokens'); // only what follows the restart
  stack.stop('pcscd');
  await gw.next('tokens', (f) => f.tokens.length < 2, 20000);
  stack.start('pcscd');
  await gw.next('tokens', (f) => f.tokens.length === 2, 40000);
  const data = randomBytes(64);
  sign(gw, 'after-pcscd', env.KYSO_VCARD1_CERT, 'rsa-pkcs1-sha256', data);
  const s = await gw.next('signed', (f) => f.job === 'after-pcscd', 15000);
  assert.ok(verify('sha256', data, createPublicKey(readFileSync(env.KYSO_VCARD1_CERT)),
                   Buffer.from(s.signature, 'base64')));
});

test('three wrong PINs block the clerk token: 402/4021, then at once', async (t) => {
  const { gw } = await agentInNamespace(t, '999999');
  for (const left of [2, 1]) {
    sign(gw, `b-${left}`, env.KYSO_VCARD2_CERT, 'ecdsa-p256-sha256', 'doc');
    const f = await gw.next('failed', (m) => m.job === `b-${left}`, 15000);
    assert.deepEqual([f.code, f.sub, f.retries_left], [401, 4015, left]);
  }
  sign(gw, 'b-0', env.KYSO_VCARD2_CERT, 'ecdsa-p256-sha256', 'doc');
  let f = await gw.next('failed', (m) => m.job === 'b-0', 15000);
  assert.deepEqual([f.code, f.sub], [402, 4021]);
  sign(gw, 'b-again', env.KYSO_VCARD2_CERT, 'ecdsa-p256-sha256', 'doc');
  f = await gw.next('failed', (m) => m.job === 'b-again', 15000);
  assert.deepEqual([f.code, f.sub], [402, 4021]);
});
