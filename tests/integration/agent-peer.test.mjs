// Integration: the real kyso-pcsc-agent (software test token) against a scripted gateway peer
// speaking /v1/agent (PROTOCOL.md 7, PCSC.md 5.3-5.6): announce, sign with signatures checked by
// node's crypto, wrong PIN and blocked PIN with their codes and tries, the PIN dialogue past
// the deadline, refusals, ping, the reconnect after a lost link and the answer of a job kept
// across it. No stack needed.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, randomBytes, verify } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { AgentFiles, Agent, GatewayPeer } from './lib/agent.mjs';

const KEY = `kyso_it-agent_${'ab'.repeat(32)}`;
const files = new AgentFiles();

test.after(() => files.remove());

async function start(t, { token = 'rsa', pin = '123456', extraArgs = [], soft = '' } = {}) {
  const gw = new GatewayPeer(KEY);
  await gw.listening;
  const pinArgs = extraArgs.includes('--pin-source') ? []
    : ['--pin-source', 'pin-file', '--pin-file', files.pinFile(`pin-${token}-${pin}`, pin)];
  const agent = new Agent(['--url', gw.url(), '--agent-id', 'it-pc-1', ...pinArgs,
                           '--soft-token', files.soft(token, soft), ...extraArgs],
                          { KYSO_AGENT_KEY: KEY });
  t.after(async () => { await agent.kill(); await gw.close(); });
  const hello = await gw.next('hello');
  const tokens = await gw.next('tokens', (f) => f.tokens.length === 1);
  return { gw, agent, hello, tokens };
}

function signJob(job, keyId, alg, data, deadlineMs = 10000) {
  const md = alg.endsWith('384') ? 'sha384' : alg.endsWith('512') ? 'sha512' : 'sha256';
  return { type: 'sign', job, key_id: keyId, alg,
           hash: createHash(md).update(data).digest('base64'),
           display: '4821 Ký duyệt QĐ 123/QĐ-UBND', deadline_ms: deadlineMs };
}

test('hello and a tokens snapshot with the certificate and its key id', async (t) => {
  const { gw, hello, tokens } = await start(t);
  assert.equal(gw.auth[0], `Bearer ${KEY}`);
  assert.equal(hello.agent_id, 'it-pc-1');
  assert.deepEqual(hello.pin_sources, ['pin-file']);
  assert.deepEqual(hello.backends, ['soft']);
  const tok = tokens.tokens[0];
  assert.equal(Buffer.from(tok.certs[0], 'base64').compare(files.certDer('rsa')), 0);
  assert.deepEqual(tok.keys.map((k) => k.alg).sort(),
                   ['rsa-pkcs1-sha256', 'rsa-pkcs1-sha384', 'rsa-pkcs1-sha512']);
  for (const k of tok.keys) assert.equal(k.key_id, files.keyId('rsa'));
  assert.deepEqual(tok.pin, { state: 'ok', retries_left: 3 });
});

test('RSA and ECDSA jobs: taken, prompt, signed with a signature that verifies', async (t) => {
  for (const [token, alg, dsa] of [['rsa', 'rsa-pkcs1-sha256', undefined],
                                   ['rsa', 'rsa-pkcs1-sha384', undefined],
                                   ['ec', 'ecdsa-p256-sha256', 'der']]) {
    const { gw } = await start(t, { token });
    const data = randomBytes(100);
    gw.send(signJob(`j-${alg}`, files.keyId(token), alg, data));
    assert.equal((await gw.next('taken')).job, `j-${alg}`);
    assert.equal((await gw.next('prompt')).job, `j-${alg}`);
    const s = await gw.next('signed');
    assert.equal(s.job, `j-${alg}`);
    assert.equal(s.key_id, files.keyId(token));
    assert.ok(s.elapsed_ms >= 0);
    const pub = createPublicKey(readFileSync(files.file(`${token}.pem`)));
    const md = alg.endsWith('384') ? 'sha384' : 'sha256';
    assert.ok(verify(md, data, dsa ? { key: pub, dsaEncoding: dsa } : pub,
                     Buffer.from(s.signature, 'base64')), `${alg} signature verifies`);
  }
});

test('wrong PIN: 401/4015 with tries left, then 402/4021 blocked, then blocked at once',
     async (t) => {
  const { gw } = await start(t, { pin: '000000' });
  const keyId = files.keyId('rsa');
  for (const left of [2, 1]) {
    gw.send(signJob(`w-${left}`, keyId, 'rsa-pkcs1-sha256', 'doc'));
    const f = await gw.next('failed', (m) => m.job === `w-${left}`);
    assert.equal(f.code, 401);
    assert.equal(f.sub, 4015);
    assert.equal(f.retries_left, left);
    assert.equal(f.sw, `63C${left}`);
    const snap = await gw.next('tokens', (x) => x.tokens[0].pin.retries_left === left);
    assert.equal(snap.tokens[0].pin.state, 'ok');
  }
  gw.send(signJob('w-0', keyId, 'rsa-pkcs1-sha256', 'doc'));
  const blocked = await gw.next('failed', (m) => m.job === 'w-0');
  assert.equal(blocked.code, 402);
  assert.equal(blocked.sub, 4021);
  assert.equal(blocked.retries_left, 0);
  const snap = await gw.next('tokens', (x) => x.tokens[0].pin.state === 'blocked');
  assert.equal(snap.tokens[0].pin.retries_left, 0);
  gw.send(signJob('w-again', keyId, 'rsa-pkcs1-sha256', 'doc'));
  const again = await gw.next('failed', (m) => m.job === 'w-again');
  assert.equal(again.code, 402);
  assert.equal(again.sub, 4021);
});

test('a PIN dialogue still open at the deadline ends 208/2082', async (t) => {
  // A pinentry that never answers GETPIN in time.
  const pe = files.file('slow-pinentry');
  writeFileSync(pe, "#!/bin/sh\necho OK\nwhile IFS= read -r l; do case \"$l\" in\n" +
                    "GETPIN) sleep 30 ;; BYE) exit 0 ;; *) echo OK ;; esac; done\n");
  chmodSync(pe, 0o700);
  const { gw } = await start(t, { extraArgs: ['--pin-source', 'pinentry', '--pinentry', pe] });
  const t0 = Date.now();
  gw.send(signJob('slow', files.keyId('rsa'), 'rsa-pkcs1-sha256', 'doc', 800));
  await gw.next('prompt');
  const f = await gw.next('failed', (m) => m.job === 'slow');
  assert.equal(f.code, 208);
  assert.equal(f.sub, 2082);
  assert.ok(Date.now() - t0 < 5000);
});

test('cancel during the PIN dialogue: one answer, 401/4014, at once', async (t) => {
  const pe = files.file('slow-pinentry-2');
  writeFileSync(pe, "#!/bin/sh\necho OK\nwhile IFS= read -r l; do case \"$l\" in\n" +
                    "GETPIN) sleep 30 ;; BYE) exit 0 ;; *) echo OK ;; esac; done\n");
  chmodSync(pe, 0o700);
  const { gw } = await start(t, { extraArgs: ['--pin-source', 'pinentry', '--pinentry', pe] });
  gw.send(signJob('c1', files.keyId('rsa'), 'rsa-pkcs1-sha256', 'doc', 3000));
  await gw.next('taken');
  await gw.next('prompt');
  const t0 = Date.now();
  gw.send({ type: 'cancel', job: 'c1' });
  const f = await gw.next('failed', (m) => m.job === 'c1');
  assert.deepEqual([f.code, f.sub], [401, 4014]);
  assert.ok(Date.now() - t0 < 1000);
  // Nothing more for that job, not even at its deadline.
  await new Promise((r) => setTimeout(r, 3500));
  assert.equal(gw.frames.filter((m) => m.job === 'c1').length, 0);
});

test('unknown key, algorithm not offered, malformed frames: defined answers, link kept',
     async (t) => {
  const { gw } = await start(t);
  gw.send(signJob('u1', 'ab'.repeat(32), 'rsa-pkcs1-sha256', 'doc'));
  let f = await gw.next('failed', (m) => m.job === 'u1');
  assert.deepEqual([f.code, f.sub], [209, 2092]);
  gw.send(signJob('u2', files.keyId('rsa'), 'ecdsa-p256-sha256', 'doc'));
  f = await gw.next('failed', (m) => m.job === 'u2');
  assert.deepEqual([f.code, f.sub], [900, 9008]);
  // Not for an agent, not JSON, a raw APDU request: refused by the codec and ignored.
  gw.send({ type: 'tokens', seq: 1, tokens: [] });
  gw.send('not json');
  gw.send({ type: 'apdu', job: 'x', apdu: '00A4040C' });
  gw.send({ type: 'ping', id: 'g-1', time: '2026-11-22T10:15:30Z' });
  const pong = await gw.next('pong');
  assert.equal(pong.id, 'g-1');
});

test('a lost link: the agent reconnects with back-off and announces again', async (t) => {
  const { gw } = await start(t);
  gw.ws.terminate();
  const t0 = Date.now();
  const hello = await gw.next('hello', () => true, 15000);
  assert.equal(hello.agent_id, 'it-pc-1');
  const tokens = await gw.next('tokens', (f) => f.tokens.length === 1);
  assert.ok(tokens.seq >= 2, 'snapshots keep counting up');
  assert.ok(Date.now() - t0 >= 500, 'not an immediate reconnect loop');
});

test('a lost link during a taken job: its answer reaches the gateway after the reconnect',
     async (t) => {
  // A pinentry that answers a moment after the prompt, while the link is down (PCSC.md 5.3).
  const pe = files.file('late-pinentry');
  writeFileSync(pe, "#!/bin/sh\necho OK\nwhile IFS= read -r l; do case \"$l\" in\n" +
                    "GETPIN) sleep 0.3; printf 'D 123456\\nOK\\n' ;; BYE) exit 0 ;; " +
                    "*) echo OK ;; esac; done\n");
  chmodSync(pe, 0o700);
  const { gw } = await start(t, { extraArgs: ['--pin-source', 'pinentry', '--pinentry', pe] });
  const data = randomBytes(64);
  gw.send(signJob('kept', files.keyId('rsa'), 'rsa-pkcs1-sha256', data, 15000));
  await gw.next('taken', (m) => m.job === 'kept');
  await gw.next('prompt', (m) => m.job === 'kept');
  gw.ws.terminate();
  await gw.next('hello', () => true, 15000);
  const s = await gw.next('signed', (m) => m.job === 'kept', 15000);
  assert.ok(verify('sha256', data, createPublicKey(readFileSync(files.file('rsa.pem'))),
                   Buffer.from(s.signature, 'base64')));
  assert.equal(gw.frames.filter((m) => m.job === 'kept' && m.type === 'failed').length, 0);
});

test('a PIN file that is not 0600 is refused at start', async () => {
  const a = new Agent(['--url', 'ws://127.0.0.1:1/v1/agent', '--agent-id', 'x',
                       '--pin-source', 'pin-file', '--pin-file', files.pinFile('loose', '123456', 0o644),
                       '--soft-token', files.soft('rsa')], { KYSO_AGENT_KEY: KEY });
  const { code } = await a.exited;
  assert.equal(code, 2);
  assert.match(a.log, /PIN file refused: mode 0644, must be 0600/);
});
