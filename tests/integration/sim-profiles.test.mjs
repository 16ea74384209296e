// Integration: one request per kyso-carrier-sim profile (TELECOM.md section 5.3) through the
// whole path: sign -> policy -> certificate check -> SIM channel -> verify -> CMS -> result.
// Needs the stack's `sim` component (deploy/lib/sim.sh).
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Stack, MqttProbe, connect, httpGet, metricValue, waitFor } from './lib/stack.mjs';

// The simulator and the gateway share one scaled clock (TELECOM.md 5.4, the gateway follows
// the simulator in deploy/stack). 10, not the stack's default 1000: the gateway's own real
// milliseconds (commits, OTA, verification) count scale-fold in simulated time, and at 1000 a
// burst of 25 requests on a busy machine spends more than a 60 s deadline before dispatch.
const stack = new Stack({ name: 'sim-profiles', env: { KYSO_SIM_TIME_SCALE: '10' } });
let env;
const work = mkdtempSync(path.join(tmpdir(), 'kyso-it-doc-'));
const doc = path.join(work, 'doc.txt');
writeFileSync(doc, 'Quyết định 123/QĐ-UBND — văn bản thử nghiệm\n');
const digest = createHash('sha256').update('Quyết định 123/QĐ-UBND — văn bản thử nghiệm\n')
  .digest('base64');

let txnEvents; // every transaction event published on MQTT (ARCHITECTURE.md 6)

test.before(() => {
  env = stack.up().env;
  txnEvents = new MqttProbe(env, 'kyso/v1/txn/#');
});
test.after(() => {
  txnEvents.stop();
  stack.down();
  rmSync(work, { recursive: true, force: true });
});

// submit_sm sent to the SMSC so far: what a refusal before dispatch must leave unchanged.
async function submits() {
  const m = await httpGet(env, '/metrics', { Authorization: `Bearer ${env.KYSO_OPERATOR_KEY}` });
  assert.equal(m.status, 200);
  const n = Number(metricValue(m.body, 'kyso_smsc_submits_total'));
  assert.ok(Number.isInteger(n), 'kyso_smsc_submits_total is exported');
  return n;
}

// [profile, expected code, sub (undefined: none), timeout_s]
// 17 loses the 2nd of its 3 answer segments: the device answered (ARCHITECTURE.md 4, "a device
// answer that has arrived wins") but the answer never arrived whole, so the deadline ends it
// 209/2093 (TELECOM.md 4 "answer incomplete", 5.3), not 208/2082 (docs/transactions.md).
// 19 answers 30 s after the SMS validity (the deadline's 60 s, unscaled on the wire), so after
// the gateway's scaled deadline: 208/2082, the late MO ignored.
const profiles = [
  ['00', 502, undefined, 60], ['01', 502, undefined, 60], ['02', 401, 4011, 60],
  ['03', 401, 4011, 60], ['04', 208, 2082, 60], ['05', 208, 2082, 15],
  ['06', 402, 4021, 60], ['07', 402, 4021, 60], ['08', 403, 4031, 60],
  ['09', 209, 2093, 60], ['10', 502, undefined, 60], ['11', 209, 2093, 60],
  ['12', 900, 9004, 60], ['13', 502, undefined, 60], ['14', 900, 9004, 60],
  ['15', 105, 1054, 60], ['16', 502, undefined, 60], ['17', 209, 2093, 60],
  ['18', 502, undefined, 60], ['19', 208, 2082, 60], ['20', 209, 2093, 60],
  ['21', 209, 2093, 60], ['22', 502, undefined, 60], ['24', 404, 4041, 60],
  ['26', 503, undefined, 60], ['27', 502, undefined, 60],
];

const msisdn = (pp) => `8490${pp}00001`;
const finals = new Map(); // profile -> its final frame in the first test


async function finalOf(c, req, waitMs = 150000) {
  c.send(req);
  let txn;
  const seen = [];
  for (;;) {
    const f = await c.next(waitMs).catch(() => null);
    if (f === null) return { type: 'timeout', status: {}, seen };
    seen.push(f.type === 'progress' ? f.state : f.type);
    if (f.type === 'error' && f.id === req.id) return f;
    if (f.type === 'accepted' && f.id === req.id) txn = f.txn;
    if (f.type === 'result' && f.txn === txn) return f;
  }
}

function request(pp, timeout, format = 'cms', display = 'Ky duyet QD 123') {
  return { type: 'sign', id: `p-${pp}-${format}`, ap_trans_id: `prof-${pp}-${format}-${Date.now()}`,
           signer: { msisdn: msisdn(pp) }, channel: 'sim', mode: 'approve',
           document: { digest, digest_alg: 'SHA-256', org: env.KYSO_DEMO_ORG, class: 'quyet-dinh',
                       secrecy: 'none' },
           display, format, timeout_s: timeout };
}

test('every profile ends with its TELECOM.md 5.3 status', async () => {
  await waitFor('the MQTT probe subscribed', () => txnEvents.ready());
  const results = await Promise.all(profiles.map(async ([pp, , , timeout]) => {
    const c = await connect(env);
    const r = await finalOf(c, request(pp, timeout));
    await c.close();
    finals.set(pp, r);
    return r;
  }));
  const wrong = profiles.filter(([pp, code, sub], i) =>
    results[i].status.code !== code || results[i].status.sub !== sub)
    .map(([pp, code, sub]) => {
      const r = results[profiles.findIndex((x) => x[0] === pp)];
      return `${pp}: want ${code}/${sub} got ${JSON.stringify(r.status)} after ${r.seen}`;
    });
  assert.deepEqual(wrong, []);
  profiles.forEach(([pp, code, sub], i) => {
    const r = results[i];
    assert.equal(r.status.code, code, `profile ${pp}: ${JSON.stringify(r.status)}`);
    assert.equal(r.status.sub, sub, `profile ${pp}`);
    if (code === 502) {
      const cms = path.join(work, `${pp}.der`);
      writeFileSync(cms, Buffer.from(r.cms, 'base64'));
      execFileSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', cms,
                               '-content', doc, '-CAfile', env.KYSO_TEST_ROOT_CA,
                               '-purpose', 'any', '-out', '/dev/null'], { stdio: 'pipe' });
    }
  });
});

test('profile 19: the answer after the deadline is recorded as txn.late, the result stays',
     async () => {
  const r = finals.get('19');
  assert.ok(r && r.txn, 'profile 19 ended with a result');
  const ref = stack.sql(`SELECT ref FROM txn WHERE id = '${r.txn}'`);
  assert.match(ref, /^[0-9]+$/);
  // It answers 30 simulated seconds after the 60 s validity: about 3 s after its deadline here.
  await waitFor('the late answer of profile 19', () => Number(stack.sql(
    "SELECT count(*) FROM node_event WHERE kind = 'txn.late' " +
    `AND detail->>'ref' = '${ref}'`)) > 0, 60000, 200);
  assert.deepEqual(stack.sql(`SELECT state || ' ' || status || ' ' || sub FROM txn ` +
                             `WHERE id = '${r.txn}'`), 'EXPIRED 208 2082');
});

test('every committed event of a signed transaction is on MQTT under its org and state',
     async () => {
  const r = finals.get('00');
  assert.ok(r && r.txn, 'profile 00 ended with a result');
  const rows = stack.sql(`SELECT string_agg(seq::text, ',' ORDER BY seq) FROM txn_event ` +
                         `WHERE txn = '${r.txn}'`).split(',').map(Number);
  assert.ok(rows.length >= 3, `events ${rows}`);
  const ours = () => txnEvents.messages((l) => l.payload.includes(r.txn))
    .filter((m) => m.msg && m.msg.txn === r.txn);
  await waitFor('the events on MQTT', () =>
    rows.every((seq) => ours().some((m) => m.msg.seq === seq)), 30000, 100);
  for (const m of ours()) {
    assert.equal(m.topic, `kyso/v1/txn/${env.KYSO_DEMO_ORG}/${m.msg.state}`);
    assert.equal(m.msg.org, env.KYSO_DEMO_ORG);
  }
  const last = ours().find((m) => m.msg.seq === rows.at(-1));
  assert.equal(last.msg.state, 'done');
  assert.equal(last.msg.status.code, 502);
});

// PROTOCOL.md 4.2: a valid result names the CA certificates its path went through (the
// issuing CA; the root is the relying party's anchor), when its OCSP answer was produced, and
// its own stored event as evidence.
test('a valid result carries its chain, revocation.produced_at and its evidence event',
     async () => {
  const r = finals.get('00');
  assert.ok(r && r.txn, 'profile 00 ended with a result');
  const issuing = execFileSync('openssl', ['x509', '-in', env.KYSO_TEST_ISSUING_CA,
                                           '-outform', 'DER']);
  assert.deepEqual(r.chain, [issuing.toString('base64')]);
  assert.equal(r.revocation.source, 'ocsp');
  assert.equal(r.revocation.status, 'good');
  const produced = Date.parse(r.revocation.produced_at);
  assert.ok(produced > Date.now() - 3600e3 && produced <= Date.now() + 5e3,
            `produced_at ${r.revocation.produced_at}`);
  assert.equal(r.evidence, `${r.txn}:${r.seq}`);
  assert.equal(stack.sql(`SELECT state || ' ' || status FROM txn_event WHERE txn = '${r.txn}' ` +
                         `AND seq = ${r.seq}`), 'DONE 502');
  // A failure is evidenced the same way.
  const f = finals.get('02');
  assert.equal(f.evidence, `${f.txn}:${f.seq}`);
  assert.equal(f.chain, undefined);
});

test('cancel after signing answers the real result, 502, and changes nothing', async () => {
  const r = finals.get('00');
  assert.ok(r && r.txn, 'profile 00 ended with a result');
  const c = await connect(env);
  const again = await c.request({ type: 'cancel', id: 'cn-after', txn: r.txn });
  assert.equal(again.type, 'result', JSON.stringify(again));
  assert.equal(again.txn, r.txn);
  assert.equal(again.status.code, 502);
  assert.equal(stack.sql(`SELECT state FROM txn WHERE id = '${r.txn}'`), 'DONE');
  await c.close();
});

test('profile 25: a revoked certificate is refused 501 before any SMS', async () => {
  const c = await connect(env);
  const before = await submits();
  const r = await finalOf(c, request('25', 60));
  assert.equal(r.type, 'error');
  assert.equal(r.status.code, 501);
  assert.equal(await submits(), before);
  await c.close();
});

test('policy denial (A3, no delegation covers it): 104/1049 with its rule, no SMS', async () => {
  // The demo clerk-level official holds profile-00 SIM 84900000002, titled for "bao-cao" only
  // and with no delegation: a quyet-dinh must be refused before any device contact.
  const c = await connect(env);
  const before = await submits();
  const txns = stack.sql('SELECT count(*) FROM txn');
  const r = await finalOf(c, { ...request('00', 60), id: 'denied', signer: { msisdn: '84900000002' } });
  assert.equal(r.type, 'error', JSON.stringify(r));
  assert.equal(r.status.code, 104);
  assert.equal(r.status.sub, 1049);
  assert.equal(r.rule, 'A3');
  assert.equal(stack.sql('SELECT count(*) FROM txn'), txns);
  assert.equal(await submits(), before);
  await c.close();
});

test('profile 23: UCS-2 text 209/2094, GSM-7 text 502', async () => {
  const c = await connect(env);
  const u = await finalOf(c, request('23', 60, 'cms', 'Ký duyệt QĐ 123'));
  assert.equal(u.status.code, 209);
  assert.equal(u.status.sub, 2094);
  const g = await finalOf(c, { ...request('23', 60), id: 'p-23-gsm' });
  assert.equal(g.status.code, 502);
  await c.close();
});

test('pkcs1: the raw signature verifies with the certificate', async () => {
  const c = await connect(env);
  const r = await finalOf(c, request('00', 60, 'pkcs1'));
  assert.equal(r.status.code, 502);
  const crt = path.join(work, 'signer.der'), sig = path.join(work, 'sig.bin');
  writeFileSync(crt, Buffer.from(r.signer_cert, 'base64'));
  writeFileSync(sig, Buffer.from(r.signature, 'base64'));
  const pub = path.join(work, 'signer.pub');
  execFileSync('openssl', ['x509', '-inform', 'DER', '-in', crt, '-pubkey', '-noout', '-out', pub]);
  execFileSync('openssl', ['dgst', '-sha256', '-verify', pub, '-signature', sig, doc],
               { stdio: 'pipe' });
  await c.close();
});

test('profiles 06/07: later requests get 402/4021 at once, no second SMS', async () => {
  const c = await connect(env);
  const before = await submits();
  const r = await finalOf(c, { ...request('07', 60), id: 'again-07' });
  assert.equal(r.type, 'error');
  assert.equal(r.status.code, 402);
  assert.equal(r.status.sub, 4021);
  assert.equal(await submits(), before);
  await c.close();
  // The blocked SIMs are locked, each with one open case for the central CA (B15), listed by
  // kysoctl.
  const cases = JSON.parse(stack.kysoctl('recovery', 'list', '--destination', 'central',
                                         '--json'));
  for (const pp of ['06', '07']) {
    const cred = stack.sql(`SELECT id FROM credential WHERE msisdn = '${msisdn(pp)}' ` +
                           "AND device = 'sim'");
    assert.match(cred, /^[0-9]+$/, `profile ${pp}: one SIM credential`);
    assert.equal(stack.sql(`SELECT state FROM credential WHERE id = ${cred}`), 'locked');
    const mine = cases.filter((k) => String(k.credential_id) === cred);
    assert.equal(mine.length, 1, `profile ${pp}: ${JSON.stringify(cases)}`);
    assert.equal(mine[0].state, 'open');
    assert.equal(mine[0].device, 'sim');
  }
});

test('OCSP responder stopped: a SIM signature ends 500 with status unknown, never 502',
     async () => {
  // 84900000005: a profile-00 SIM not used before, so no OCSP answer for it is cached.
  const c = await connect(env);
  stack.stop('ocsp');
  let r;
  try {
    r = await finalOf(c, { ...request('00', 60), id: 'ocsp-down',
                           signer: { msisdn: '84900000005' } });
  } finally {
    stack.start('ocsp');
  }
  assert.equal(r.type, 'result', JSON.stringify(r.status));
  assert.equal(r.status.code, 500);
  assert.notEqual(r.status.code, 502);
  assert.equal(r.revocation.status, 'unknown');
  assert.deepEqual(r.warnings.map((w) => w.rule), ['D3']);
  await c.close();
});

test('kysoctl audit verify is OK after all of it', () => {
  assert.equal(stack.kysoctlStatus('audit', 'verify'), 0);
});
