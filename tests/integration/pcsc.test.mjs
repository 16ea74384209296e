// Integration: the card engine (pcsc/) on real pcscd + vpcd + kyso-vcard from deploy/stack's
// pcsc component (PCSC.md §1): readers and tokens, certificates, RSA and ECDSA signatures
// verified by openssl, PIN counters, blocking and unblocking, a card pulled during a job and
// its return, and a pcscd restart. Waits are on engine events, never sleeps.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Stack, waitFor } from './lib/stack.mjs';
import { CardProbe, certDerHex, opensslVerify, randomDoc, sha } from './lib/card-probe.mjs';

const stack = new Stack({ name: 'pcsc', args: ['--only', 'pki,pcsc'] });
let env;
let probe;
let official; // reader names
let clerk;

test.before(async () => {
  env = stack.up().env;
  official = env.KYSO_VCARD1_READER;
  clerk = env.KYSO_VCARD2_READER;
  probe = new CardProbe(env);
  await probe.present(official);
  await probe.present(clerk);
});
test.after(() => stack.down());


// Pulls token n (its kyso-vcard stops) and waits until the engine saw it go: a card put back
// within one presence poll (400 ms, P6) would look to pcscd as if it never left.
async function pull(n) {
  const reader = n === 1 ? official : clerk;
  const from = probe.mark();
  stack.stop(`vcard-${n}`);
  await probe.wait(`token ${n} gone`, (e) => e.ev === 'token_gone' && e.reader === reader, from);
}

// Inserts token n again, with fault options for this start only, and waits for its probe.
async function insert(n, extra = '') {
  const from = probe.mark();
  withExtra(n, extra, () => stack.start(`vcard-${n}`));
  return probe.present(n === 1 ? official : clerk, from);
}

function withExtra(n, extra, fn) {
  const key = `KYSO_VCARD${n}_EXTRA`;
  const old = process.env[key];
  process.env[key] = extra;
  try { return fn(); } finally {
    if (old === undefined) delete process.env[key]; else process.env[key] = old;
  }
}

test('both readers are listed and both tokens are probed with their certificates', () => {
  const o = probe.find((e) => e.ev === 'token_present' && e.reader === official);
  const c = probe.find((e) => e.ev === 'token_present' && e.reader === clerk);
  assert.equal(o.profile, 'KYSO-PKI-v1');
  assert.equal(o.key, 'rsa');
  assert.equal(c.key, 'ec');
  assert.equal(o.label, 'kyso demo official');
  assert.equal(o.cert, certDerHex(env.KYSO_VCARD1_CERT));
  assert.equal(c.cert, certDerHex(env.KYSO_VCARD2_CERT));
  assert.equal(o.pin_retries, 3);
  assert.match(o.serial, /^[0-9a-f]{32}$/);
  assert.notEqual(o.serial, c.serial);
  assert.equal(o.atr, '3b88014b59534f5643303193'); // T=1 ATR of PCSC.md §4
});

for (const [alg, digest] of [['rsa-pkcs1-sha256', 'sha256'], ['rsa-pkcs1-sha384', 'sha384'],
                             ['rsa-pkcs1-sha512', 'sha512']]) {
  test(`${alg} on the official's token verifies with openssl against the certificate`,
    async () => {
      const doc = randomDoc();
      const r = await probe.job(['sign', official, alg, sha(digest, doc).toString('hex'),
                                 '123456']);
      assert.equal(r.err, 'ok', JSON.stringify(r));
      assert.deepEqual(r.events, ['taken', 'prompt', 'done']);
      assert.equal(r.sig.length, 512); // RSA-2048
      assert.ok(opensslVerify(env.KYSO_VCARD1_CERT, digest, doc, r.sig));
      assert.ok(!opensslVerify(env.KYSO_VCARD1_CERT, digest, randomDoc(), r.sig));
    });
}

test('ECDSA P-256 on the clerk\'s seal token: DER signature verifies with openssl', async () => {
  const doc = randomDoc();
  const r = await probe.job(['sign', clerk, 'ecdsa-p256-sha256',
                             sha('sha256', doc).toString('hex'), '123456']);
  assert.equal(r.err, 'ok', JSON.stringify(r));
  assert.equal(r.sig.slice(0, 2), '30'); // DER SEQUENCE, not r||s
  assert.ok(opensslVerify(env.KYSO_VCARD2_CERT, 'sha256', doc, r.sig));
});

test('the verified PIN state does not outlive a job (transaction ends with a reset)', async () => {
  const doc = randomDoc();
  const r = await probe.job(['sign', official, 'rsa-pkcs1-sha256',
                             sha('sha256', doc).toString('hex'), '123456']);
  assert.equal(r.err, 'ok');
  const s = await probe.job(['status', official]);
  assert.equal(s.pin_verified, false);
  assert.equal(s.sw, '63c3');
  assert.equal(s.retries_left, 3);
});

test('a wrong PIN fails with retries left (401/4015); the right one resets the counter',
  async () => {
    const h = sha('sha256', randomDoc()).toString('hex');
    const r = await probe.job(['sign', official, 'rsa-pkcs1-sha256', h, '999999']);
    assert.equal(r.reason, 'PIN_INCORRECT');
    assert.equal(r.code, 401);
    assert.equal(r.sub, 4015);
    assert.equal(r.retries_left, 2);
    assert.equal(r.sw, '63c2');
    // A re-prompt shows the count and a right PIN then signs.
    const ok = await probe.job(['sign', official, 'rsa-pkcs1-sha256', h, '999999,123456']);
    assert.equal(ok.err, 'ok');
    assert.deepEqual(ok.events, ['taken', 'prompt', 'prompt', 'done']);
    const s = await probe.job(['status', official]);
    assert.equal(s.retries_left, 3);
  });

test('a hash of the wrong length never reaches the card (900/9007)', async () => {
  const r = await probe.job(['sign', official, 'rsa-pkcs1-sha256', 'aabbcc', '123456']);
  assert.equal(r.reason, 'BAD_INPUT');
  assert.equal(r.code, 900);
  assert.equal(r.sub, 9007);
  assert.ok(!r.events.includes('prompt'));
});

test('a job whose deadline passed before the card was used fails 208/2081', async () => {
  const h = sha('sha256', randomDoc()).toString('hex');
  // Keep the worker busy with a status query so the 1 ms deadline is over when the job runs.
  probe.submit(['bench', official, '200']);
  const r = await probe.job(['sign', official, 'rsa-pkcs1-sha256', h, '123456', '1']);
  assert.equal(r.reason, 'DEADLINE', JSON.stringify(r));
  assert.equal(r.code, 208);
  assert.equal(r.sub, 2081);
  assert.ok(!r.events.includes('prompt'));
});

test('a queued job cancelled before its turn ends 401/4014 without a prompt', async () => {
  const h = sha('sha256', randomDoc()).toString('hex');
  const from = probe.mark();
  probe.submit(['bench', official, '3000']); // keeps the worker busy for a while
  const id = probe.submit(['sign', official, 'rsa-pkcs1-sha256', h, '123456']);
  probe.send(`cancel ${id}`);
  const r = await probe.wait('cancelled job', (e) => e.ev === 'done' && e.job === id, from);
  assert.equal(r.reason, 'ABORTED', JSON.stringify(r));
  assert.equal(r.code, 401);
  assert.equal(r.sub, 4014);
  assert.ok(!probe.events.slice(from).some((e) => e.ev === 'prompt' && e.job === id));
  // The next job on that reader is not affected.
  const ok = await probe.job(['sign', official, 'rsa-pkcs1-sha256', h, '123456']);
  assert.equal(ok.err, 'ok');
});

test('three wrong PINs block the token (402/4021); PUK unblock restores it', async () => {
  const h = sha('sha256', randomDoc()).toString('hex');
  const r = await probe.job(['sign', clerk, 'ecdsa-p256-sha256', h, '000000,000000,000000']);
  assert.equal(r.reason, 'PIN_BLOCKED', JSON.stringify(r));
  assert.equal(r.code, 402);
  assert.equal(r.sub, 4021);
  assert.equal(r.retries_left, 0);
  // Blocked: the next job fails at once, without asking for a PIN.
  const again = await probe.job(['sign', clerk, 'ecdsa-p256-sha256', h, '123456']);
  assert.equal(again.reason, 'PIN_BLOCKED');
  assert.ok(!again.events.includes('prompt'));
  // A wrong PUK costs a PUK try (local dialog), the right one unblocks with a new PIN.
  const badPuk = await probe.job(['unblock', clerk, '87654321', '123456']);
  assert.equal(badPuk.reason, 'PUK_INCORRECT');
  assert.equal(badPuk.retries_left, 9);
  const unb = await probe.job(['unblock', clerk, '12345678', '123456']);
  assert.equal(unb.err, 'ok', JSON.stringify(unb));
  const ok = await probe.job(['sign', clerk, 'ecdsa-p256-sha256', h, '123456']);
  assert.equal(ok.err, 'ok');
});

test('change PIN: the old PIN stops working, the new one signs', async () => {
  const h = sha('sha256', randomDoc()).toString('hex');
  assert.equal((await probe.job(['change', clerk, '123456', '24681357'])).err, 'ok');
  const old = await probe.job(['sign', clerk, 'ecdsa-p256-sha256', h, '123456']);
  assert.equal(old.reason, 'PIN_INCORRECT');
  assert.equal((await probe.job(['sign', clerk, 'ecdsa-p256-sha256', h, '24681357'])).err, 'ok');
  assert.equal((await probe.job(['change', clerk, '24681357', '123456'])).err, 'ok');
});

for (const [extra, what] of [['--t0', 'a T=0 card answering every command through 61xx'],
                             ['--strict-le', 'a card answering 6Cxx unless Le is exact'],
                             ['--pin-always', 'a card that forgets the PIN after each PSO']]) {
  test(`${what}: the engine still reads, probes and signs (${extra})`, async () => {
    await pull(2);
    const tok = await insert(2, extra);
    assert.equal(tok.cert, certDerHex(env.KYSO_VCARD2_CERT));
    if (extra === '--t0') assert.equal(tok.atr, '3b084b59534f56433031');
    for (let i = 0; i < 2; i++) {
      const doc = randomDoc();
      const r = await probe.job(['sign', clerk, 'ecdsa-p256-sha256',
                                 sha('sha256', doc).toString('hex'), '123456']);
      assert.equal(r.err, 'ok', JSON.stringify(r));
      assert.ok(opensslVerify(env.KYSO_VCARD2_CERT, 'sha256', doc, r.sig));
    }
    await pull(2);
    await insert(2);
  });
}

test('the card dropping the link on PSO (fault injection) is 209/2092, then it returns',
  async () => {
    await pull(1);
    await insert(1, '--drop-on-ins 2A --reinsert-ms 1000');
    const from = probe.mark();
    const h = sha('sha256', randomDoc()).toString('hex');
    const r = await probe.job(['sign', official, 'rsa-pkcs1-sha256', h, '123456']);
    assert.equal(r.err, 'card removed', JSON.stringify(r));
    assert.equal(r.code, 209);
    assert.equal(r.sub, 2092);
    // vpcd answers the dropped command with an empty frame: there is no status word.
    assert.equal(r.sw, '0000');
    await probe.wait('token gone', (e) => e.ev === 'token_gone' && e.reader === official, from);
    await probe.present(official, from); // re-inserted by the card itself
    const ok = await probe.job(['sign', official, 'rsa-pkcs1-sha256', h, '123456']);
    assert.equal(ok.err, 'ok', JSON.stringify(ok));
    await pull(1);
    await insert(1);
  });

test('the card pulled (vcard stopped) during a slow signature, then put back', async () => {
  await pull(1);
  await insert(1, '--sign-delay-ms 1500');
  let from = probe.mark();
  const h = sha('sha256', randomDoc()).toString('hex');
  const logAt = readFileSync(env.KYSO_VCARD1_LOG, 'utf8').length;
  const id = probe.submit(['sign', official, 'rsa-pkcs1-sha256', h, '123456']);
  await probe.wait('prompt', (e) => e.ev === 'prompt' && e.job === id, from);
  // Pull the card once it is inside the slow PSO (it logs that when it starts signing).
  await waitFor('PSO under way', () =>
    readFileSync(env.KYSO_VCARD1_LOG, 'utf8').slice(logAt).includes('signing slowly'));
  stack.stop('vcard-1');
  const r = await probe.wait('job end', (e) => e.ev === 'done' && e.job === id, from);
  assert.equal(r.err, 'card removed', JSON.stringify(r));
  assert.equal(r.code, 209);
  assert.equal(r.sub, 2092);
  await probe.wait('token gone', (e) => e.ev === 'token_gone' && e.reader === official, from);
  // No silent retry: nothing else ends this job.
  assert.equal(probe.events.slice(from).filter((e) => e.ev === 'done' && e.job === id).length, 1);
  // A job while the card is out fails the same way.
  const out = await probe.job(['sign', official, 'rsa-pkcs1-sha256', h, '123456']);
  assert.equal(out.code, 209);
  from = probe.mark();
  stack.start('vcard-1');
  await probe.present(official, from);
  const ok = await probe.job(['sign', official, 'rsa-pkcs1-sha256', h, '123456']);
  assert.equal(ok.err, 'ok', JSON.stringify(ok));
});

test('a full job ring rejects at once (depth 4 per reader)', async () => {
  await pull(2);
  await insert(2, '--sign-delay-ms 400');
  const from = probe.mark();
  const h = sha('sha256', randomDoc()).toString('hex');
  const ids = [];
  for (let i = 0; i < 7; i++) ids.push(probe.submit(['sign', clerk, 'ecdsa-p256-sha256', h, '123456']));
  await probe.wait('all answered', () => ids.every((id) => probe.find(
    (e) => (e.ev === 'done' || e.ev === 'rejected') && e.job === id, from)), from, 30000);
  const rejected = ids.filter((id) => probe.find((e) => e.ev === 'rejected' && e.job === id, from));
  const done = ids.filter((id) => probe.find((e) => e.ev === 'done' && e.job === id && e.err === 'ok', from));
  assert.ok(rejected.length >= 2, `rejected ${rejected.length}`);
  assert.equal(rejected.length + done.length, 7);
  for (const id of rejected)
    assert.equal(probe.find((e) => e.ev === 'rejected' && e.job === id, from).err, 'queue full');
  await pull(2);
  await insert(2);
});

test('pcscd restarted: the engine sees the service go and come back, and signs again',
  async () => {
    let from = probe.mark();
    stack.stop('pcscd');
    await probe.wait('readers gone', (e) => e.ev === 'service_down' ||
      (e.ev === 'reader_removed' && e.reader === official), from);
    const h = sha('sha256', randomDoc()).toString('hex');
    const down = await probe.job(['sign', official, 'rsa-pkcs1-sha256', h, '123456']);
    assert.ok(down.ev === 'rejected' || down.code === 209, JSON.stringify(down));
    from = probe.mark();
    stack.start('pcscd');
    await probe.present(official, from, 40000); // back-off is at most a few seconds here
    await probe.present(clerk, from, 40000);
    const ok = await probe.job(['sign', official, 'rsa-pkcs1-sha256', h, '123456']);
    assert.equal(ok.err, 'ok', JSON.stringify(ok));
  });

// Last: the engine shuts down cleanly (threads joined; sanitizer builds report leaks here).
test('the engine stops cleanly', async () => {
  const code = await probe.quit();
  assert.equal(code, 0, probe.stderr);
});
