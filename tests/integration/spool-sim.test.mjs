// Integration: a SIM's signed answer that arrives while PostgreSQL is away survives a SIGKILL
// of the gateway (ARCHITECTURE.md section 6, docs/database.md "Spool"). The stack's carrier
// simulator runs in real time here, so a profile-00 SIM answers seconds after delivery (a
// log-normal delay, median 10 s): time to take the database away after the request reached
// the SIM and before the answer comes back.
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Stack, connect, httpGet, waitFor } from './lib/stack.mjs';

const stack = new Stack({ name: 'spool-sim', env: { KYSO_SIM_TIME_SCALE: '1' } });
let env;

test.before(() => { env = stack.up().env; });
test.after(() => stack.down());

const D256 = '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=';
const FINAL = "('DONE','FAILED','EXPIRED','CANCELLED')";

async function ready(want) {
  await waitFor(`readyz ${want}`, async () => {
    try { return (await httpGet(env, '/readyz')).status === (want ? 200 : 503); } catch {
      return false;
    }
  }, 90000, 100);
}

async function until(c, pred, timeoutMs = 60000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const f = await c.next(Math.max(1, end - Date.now()));
    if (pred(f)) return f;
    if (f.type === 'error') throw new Error(JSON.stringify(f));
  }
}

function spoolHolds(file, text) {
  return existsSync(file) && readFileSync(file).includes(Buffer.from(text));
}

// One request to a profile-00 SIM, the database stopped once the SIM has it. Returns the txn
// and its client, or null when the answer beat the outage (then the database is back up).
async function signThenStopPg(attempt) {
  const c = await connect(env);
  const req = {
    type: 'sign', id: `sim-${attempt}`, ap_trans_id: `spool-sim-${attempt}-${Date.now()}`,
    signer: { msisdn: '84900000001' }, channel: 'sim', mode: 'approve',
    document: { digest: D256, digest_alg: 'SHA-256', org: env.KYSO_DEMO_ORG,
                class: 'quyet-dinh', secrecy: 'none' },
    display: 'Ky duyet QD 123', format: 'pkcs1', timeout_s: 120,
  };
  c.send(req);
  const acc = await until(c, (f) => f.id === req.id);
  assert.equal(acc.type, 'accepted', JSON.stringify(acc));
  await until(c, (f) => f.type === 'progress' && f.txn === acc.txn && f.state === 'delivered');
  stack.stop('pg');
  await ready(false);
  if (c.frames.some((f) => f.type === 'result' && f.txn === acc.txn)) {
    stack.start('pg');
    await ready(true);
    await c.close();
    return null;
  }
  return { c, txn: acc.txn };
}

test('PostgreSQL down, the SIM answers, gateway SIGKILLed: the signature is committed', async () => {
  const spool = path.join(stack.dir, 'spool-1', 'node-1.spool');
  let run = null;
  for (let attempt = 1; run === null; attempt++) {
    assert.ok(attempt <= 3, 'the SIM answered before the outage three times in a row');
    run = await signThenStopPg(attempt);
  }
  const { c, txn } = run;
  // The answer is taken and spooled; nothing is pushed before its commit.
  await waitFor('the result in the spool', () => spoolHolds(spool, '"type":"result"'), 90000,
                200);
  assert.ok(!c.frames.some((f) => f.type === 'result'), 'no result pushed before the commit');
  process.kill(Number(readFileSync(path.join(stack.dir, 'gateway-1.pid'), 'utf8')), 'SIGKILL');
  await c.closed;
  stack.start('pg');
  stack.start('gateway-1');
  await ready(true);
  assert.equal(stack.sql(`SELECT state || ' ' || status FROM txn WHERE id = '${txn}'`),
               'DONE 502');
  assert.equal(stack.sql(`SELECT count(*) FROM txn_event WHERE txn = '${txn}' AND state IN ` +
                         FINAL), '1');
  // the result is the final event's detail (migration 0008)
  assert.equal(stack.sql(`SELECT e.detail->>'signature' IS NOT NULL FROM txn t JOIN txn_event e ` +
                         `ON e.txn = t.id AND e.seq = t.last_seq WHERE t.id = '${txn}'`), 't');
  assert.equal(statSync(spool).size, 0, 'emptied after the commit');
  assert.match(stack.gatewayLog(), /msg="spool read back" records=[1-9]/);
  const s = await waitFor('gateway back', () => connect(env).catch(() => null));
  const r = await s.request({ type: 'status', id: 'st', txn });
  assert.equal(r.type, 'result');
  assert.equal(r.status.code, 502);
  await s.close();
  assert.match(stack.kysoctl('audit', 'verify'), /audit OK/);
});
