// Integration: PostgreSQL going away under load (ARCHITECTURE.md section 6, docs/database.md
// "Spool"). New requests get 900/9002 at once; events of transactions in flight are spooled on
// the gateway's disk and committed when the database returns, also across a SIGKILL of the
// gateway. Every event a client was told about ends up in txn_event, every transaction ends
// exactly once, and the hash chains still verify. No SIM answers here (`--skip sim`): the
// transactions wait undispatched and end by cancel, whose `cancelled` acknowledgement the
// client gets before the CANCELLED event is committed.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Stack, connect, httpGet, root, waitFor } from './lib/stack.mjs';

const stack = new Stack({ name: 'spool', args: ['--skip', 'sim'] });
let env;
const work = mkdtempSync(path.join(tmpdir(), 'kyso-it-spool-certs-'));
const SIGNERS = [['an', 'dn-chu-tich', '84900000000'], ['binh', 'dn-pho-chu-tich', '84900000001']];
const D256 = '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=';
const FINAL = "('DONE','FAILED','EXPIRED','CANCELLED')";

test.before(() => {
  env = stack.up().env;
  for (const [name, person, msisdn] of SIGNERS) {
    const out = path.join(work, name);
    execFileSync(path.join(root, 'deploy', 'test-pki'),
                 ['issue', path.join(stack.dir, 'pki'), '--cn', name, '--key-alg', 'ec-p256',
                  '--out', out], { stdio: 'ignore' });
    stack.kysoctl('credential', 'import', '--cert', `${out}.crt`, '--org', env.KYSO_DEMO_ORG,
                  '--person', person, '--type', 'personal', '--device', 'sim', '--msisdn', msisdn);
  }
});
test.after(() => { stack.down(); rmSync(work, { recursive: true, force: true }); });

let n = 0;
function sign(k) {
  n++;
  return {
    type: 'sign', id: `s-${n}`, ap_trans_id: `spool-${n}-${Date.now()}`,
    signer: { msisdn: SIGNERS[k % SIGNERS.length][2] }, channel: 'sim', mode: 'approve',
    document: { digest: D256, digest_alg: 'SHA-256', org: env.KYSO_DEMO_ORG,
                class: 'quyet-dinh', secrecy: 'none' },
    display: 'Ký duyệt QĐ 1', format: 'pkcs1', timeout_s: 300,
  };
}

// What the clients were told: every (txn, seq) of an event frame, the transactions accepted,
// and those whose cancel was acknowledged as effective.
const told = { events: new Set(), accepted: new Set(), cancelled: new Set() };

function note(f) {
  if (f.txn && Number.isInteger(f.seq) && ['accepted', 'progress', 'result'].includes(f.type))
    told.events.add(`${f.txn}:${f.seq}`);
  if (f.type === 'accepted') told.accepted.add(f.txn);
  if (f.type === 'cancelled' && f.effective) told.cancelled.add(f.txn);
}

// The next frame that satisfies pred; every frame on the way is noted.
async function until(c, pred, timeoutMs = 60000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const f = await c.next(Math.max(1, end - Date.now()));
    note(f);
    if (pred(f)) return f;
  }
}

async function accept(c, k) {
  const req = sign(k);
  c.send(req);
  return until(c, (f) => f.id === req.id && (f.type === 'accepted' || f.type === 'error'));
}

async function cancel(c, txn) {
  const id = `c-${txn}`;
  c.send({ type: 'cancel', id, txn });
  const ack = await until(c, (f) => f.id === id);
  assert.ok(ack.type === 'cancelled' || ack.type === 'result', JSON.stringify(ack));
  return ack;
}

async function ready(want) {
  await waitFor(`readyz ${want}`, async () => {
    try { return (await httpGet(env, '/readyz')).status === (want ? 200 : 503); } catch {
      return false;
    }
  }, 90000, 100);
}

// One client signing and cancelling until stopped; refusals while the database is away must
// be 900/9002 (or 9005), answered at once.
async function load(c, k, stop, refusals) {
  while (!stop.now) {
    const a = await accept(c, k);
    if (a.type === 'error') {
      assert.equal(a.status.code, 900, JSON.stringify(a));
      assert.ok([9002, 9005].includes(a.status.sub), JSON.stringify(a));
      refusals.n++;
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    const ack = await cancel(c, a.txn);
    if (ack.type === 'cancelled')
      await until(c, (f) => f.type === 'result' && f.txn === a.txn, 120000);
  }
}

function sqlList(set) { return [...set].map((t) => `'${t}'`).join(','); }

// Everything the clients were told is in txn_event, each accepted txn has exactly one final
// event and a final row, and every acknowledged cancel ended CANCELLED.
function assertNothingLost() {
  const stored = new Set(stack.sql(`SELECT txn || ':' || seq FROM txn_event WHERE txn IN ` +
                                   `(${sqlList(told.accepted)})`).split('\n'));
  const missing = [...told.events].filter((e) => !stored.has(e));
  assert.deepEqual(missing, [], 'acknowledged events missing from txn_event');
  const finals = stack.sql(`SELECT txn, count(*) FROM txn_event WHERE txn IN ` +
                           `(${sqlList(told.accepted)}) AND state IN ${FINAL} GROUP BY txn`);
  const once = finals.split('\n').filter((l) => l.endsWith('|1')).length;
  assert.equal(once, told.accepted.size, 'each txn ends exactly once');
  const cancelled = stack.sql(`SELECT count(*) FROM txn WHERE id IN (${sqlList(told.cancelled)})` +
                              " AND state = 'CANCELLED'");
  assert.equal(Number(cancelled), told.cancelled.size);
}

test('PostgreSQL restarted under load: no acknowledged event lost', async (t) => {
  const clients = await Promise.all(Array.from({ length: 4 }, () => connect(env)));
  const stop = { now: false };
  const refusals = { n: 0 };
  // Held open across the outage: their cancels are acknowledged while the database is away.
  const held = await connect(env);
  const open = [];
  for (let k = 0; k < 6; k++) {
    const a = await accept(held, k);
    assert.equal(a.type, 'accepted', JSON.stringify(a));
    open.push(a.txn);
  }
  const runs = clients.map((c, k) => load(c, k, stop, refusals));
  await new Promise((r) => setTimeout(r, 1500));
  stack.stop('pg');
  await ready(false);
  // A new request is refused at once; events of transactions in flight are taken.
  const fresh = await accept(held, 0);
  assert.equal(fresh.type, 'error');
  assert.deepEqual([fresh.status.code, fresh.status.sub], [900, 9002]);
  for (const t of open) {
    const ack = await cancel(held, t);
    assert.equal(ack.type, 'cancelled', JSON.stringify(ack));
    assert.equal(ack.effective, true);
  }
  await new Promise((r) => setTimeout(r, 1500));
  stack.start('pg');
  await ready(true);
  // Their results come once committed, lane by lane: in any order across lanes.
  const waiting = new Set(open);
  await until(held, (f) => {
    if (f.type === 'result') waiting.delete(f.txn);
    return waiting.size === 0;
  }, 120000);
  await new Promise((r) => setTimeout(r, 1500));
  stop.now = true;
  await Promise.all(runs);
  assert.ok(refusals.n > 0, 'requests during the outage were refused');
  assert.ok(told.accepted.size > open.length, 'the load made transactions');
  await Promise.all([...clients, held].map((c) => c.close()));
  assertNothingLost();
  assert.match(stack.kysoctl('audit', 'verify'), /audit OK/);
  assert.doesNotMatch(stack.gatewayLog(), /AddressSanitizer|runtime error|assertion failed/);
  t.diagnostic(`${told.accepted.size} transactions, ${told.events.size} events told, ` +
               `${told.cancelled.size} cancels acknowledged, ${refusals.n} refusals`);
});

test('PostgreSQL down, cancel acknowledged, gateway SIGKILLed: committed from the spool', async () => {
  const spool = path.join(stack.dir, 'spool-1', 'node-1.spool');
  let c = await connect(env);
  const a = await accept(c, 1);
  assert.equal(a.type, 'accepted', JSON.stringify(a));
  stack.stop('pg');
  await ready(false);
  const ack = await cancel(c, a.txn);
  assert.equal(ack.type, 'cancelled');
  assert.equal(ack.effective, true);
  assert.ok(statSync(spool).size > 0, 'the event is on disk');
  process.kill(Number(readFileSync(path.join(stack.dir, 'gateway-1.pid'), 'utf8')), 'SIGKILL');
  await c.closed;
  stack.start('pg');
  stack.start('gateway-1');
  await ready(true);
  assert.equal(stack.sql(`SELECT state FROM txn WHERE id = '${a.txn}'`), 'CANCELLED');
  assert.equal(stack.sql(`SELECT count(*) FROM txn_event WHERE txn = '${a.txn}' AND state IN ` +
                         FINAL), '1');
  assert.equal(statSync(spool).size, 0, 'emptied after the commit');
  assert.match(stack.gatewayLog(), /msg="spool read back" records=[1-9]/);
  c = await waitFor('gateway back', () => connect(env).catch(() => null));
  const r = await c.request({ type: 'status', id: 'st', txn: a.txn });
  assert.equal(r.type, 'result');
  assert.deepEqual([r.status.code, r.status.sub], [401, 4014]);
  await c.close();
  assert.match(stack.kysoctl('audit', 'verify'), /audit OK/);
});
