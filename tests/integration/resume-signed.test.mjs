// Integration: a transaction whose device answer was recorded as SIGNED, on a node that died
// before the final event (ARCHITECTURE.md 4 "Deadlines": an answer that arrived wins). The
// stack's gateway runs with dev.exit_after_signed (KYSO_GATEWAY_EXIT_AFTER_SIGNED=1): it kills
// itself with SIGKILL once the SIGNED event commits, before verification. Started again, it
// reads the signature back from that event, verifies it, builds the CMS and ends the
// transaction 502 exactly once (docs/transactions.md "Restart"). With node 1 left dead, node 2
// takes the transaction over when the lease runs out and finishes it the same way ("Owner and
// lease").
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Stack, connect, simCtl, waitFor } from './lib/stack.mjs';

const stack = new Stack({ name: 'resume-signed', args: ['--nodes', '2'],
                          env: { KYSO_SIM_TIME_SCALE: '10',
                                 KYSO_GATEWAY_EXIT_AFTER_SIGNED: '1' } });
let env;
const work = mkdtempSync(path.join(tmpdir(), 'kyso-it-resume-'));
const text = 'Quyết định 12/QĐ-UBND — ký lại sau khi khởi động\n';
const doc = path.join(work, 'doc.txt');
writeFileSync(doc, text);
const digest = createHash('sha256').update(text).digest('base64');
const FINALS = "('DONE','FAILED','EXPIRED','CANCELLED')";

function sign(id, msisdn, format) {
  return { type: 'sign', id, ap_trans_id: `${id}-${Date.now()}`, signer: { msisdn },
           channel: 'sim', mode: 'approve',
           document: { digest, digest_alg: 'SHA-256', org: env.KYSO_DEMO_ORG,
                       class: 'quyet-dinh', secrecy: 'none' },
           display: 'Ky quyet dinh 12', format, timeout_s: 60 };
}

const ctl = (obj) => simCtl(env, obj);

test.before(async () => {
  env = stack.up().env;
  // The cards' answers go to node 1's bind, so that node 1 is the one recording SIGNED.
  await waitFor('both nodes bound to the simulator', () =>
    ctl({ cmd: 'smsc.binds' }).accounts.some((a) => a.binds >= 2), 60000, 250);
  ctl({ cmd: 'smsc.set', mo_system_type: 'node-1' });
});
test.after(() => { stack.down(); rmSync(work, { recursive: true, force: true }); });

// Signs on the card of profile 01 (approves at once); the node dies after SIGNED. Returns the
// txn id, with SIGNED as its last stored event and no final one.
async function signedThenKilled(id, msisdn, format) {
  const c = await connect(env);
  const a = await c.request(sign(id, msisdn, format));
  assert.equal(a.type, 'accepted', JSON.stringify(a));
  await c.closed; // the node killed itself
  await waitFor('SIGNED recorded', () => stack.sql(
    `SELECT state FROM txn WHERE id = '${a.txn}'`) === 'SIGNED', 30000, 250);
  assert.equal(stack.sql(`SELECT count(*) FROM txn_event WHERE txn = '${a.txn}' ` +
                         `AND state IN ${FINALS}`), '0');
  const sig = stack.sql(`SELECT detail->>'signature' FROM txn_event WHERE txn = '${a.txn}' ` +
                        "AND state = 'SIGNED'");
  assert.match(sig, /^[A-Za-z0-9+/]+=*$/); // the signature is in the SIGNED event's detail
  assert.match(stack.gatewayLog(), new RegExp(`dev.exit_after_signed: killing this node" ` +
                                              `txn=${a.txn}`));
  // It lived less than one heartbeat period, yet its lease row exists: a node accepts only
  // after its first heartbeat commits, or no lease of its would ever run out for node 2 to
  // take the transaction over (docs/transactions.md "Owner and lease").
  assert.equal(stack.sql("SELECT count(*) FROM node WHERE node_id = 'node-1'"), '1');
  return a.txn;
}

// The result's detached CMS over the document, checked by openssl against the test root.
function verifyCms(b64, name) {
  const cms = path.join(work, `${name}.der`);
  writeFileSync(cms, Buffer.from(b64, 'base64'));
  execFileSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', cms,
                           '-content', doc, '-CAfile', env.KYSO_TEST_ROOT_CA,
                           '-purpose', 'any', '-out', '/dev/null'], { stdio: 'pipe' });
}

// The gateway started again: the result comes to a subscriber, once.
async function resultAfterRestart(txn, restart = true, on = env) {
  if (restart) stack.start('gateway-1');
  const c = await waitFor('gateway up', () => connect(on).catch(() => null), 60000, 250);
  c.send({ type: 'subscribe', id: `sub-${txn}`, since: { [txn]: 1 } });
  let r;
  for (;;) {
    const f = await c.next(60000);
    if (f.type === 'result' && f.txn === txn) { r = f; break; }
  }
  await c.close();
  assert.equal(stack.sql(`SELECT count(*) FROM txn_event WHERE txn = '${txn}' ` +
                         `AND state IN ${FINALS}`), '1');
  assert.equal(stack.sql(`SELECT count(*) FROM txn_event WHERE txn = '${txn}' ` +
                         "AND state = 'SIGNED'"), '1');
  assert.equal(stack.sql(`SELECT state FROM txn WHERE id = '${txn}'`), 'DONE');
  return r;
}

test('SIGNED committed, node killed before the final event: after a restart the recorded ' +
     'signature ends it 502 once, with a CMS that verifies', async () => {
  const txn = await signedThenKilled('r-cms', '84900100005', 'cms');
  const r = await resultAfterRestart(txn);
  assert.equal(r.status.code, 502, JSON.stringify(r));
  const stored = stack.sql(`SELECT detail->>'signature' FROM txn_event WHERE txn = '${txn}' ` +
                           "AND state = 'SIGNED'");
  assert.equal(r.signature, stored);
  verifyCms(r.cms, 'r-cms');
  // by the restarted node, or by node 2 had node 1's lease run out meanwhile
  const logs = stack.gatewayLog() + readFileSync(path.join(stack.dir, 'gateway-2.log'), 'utf8');
  assert.match(logs, new RegExp(`recorded signature read back after its node stopped" ` +
                                `txn=${txn}`));
});

test('the same for pkcs1', async () => {
  const txn = await signedThenKilled('r-pkcs1', '84900100006', 'pkcs1');
  const r = await resultAfterRestart(txn);
  assert.equal(r.status.code, 502, JSON.stringify(r));
  assert.equal(r.cms, undefined);
});

test('node 1 killed after SIGNED and left dead: node 2 takes the transaction over at lease ' +
     'expiry and ends it 502 once; the audit chains verify', async () => {
  const txn = await signedThenKilled('r-takeover', '84900100007', 'cms');
  const env2 = { ...env, KYSO_WS_URL: env.KYSO_NODE2_WS_URL };
  await waitFor('node 2 owns it', () => stack.sql(
    `SELECT owner_node FROM txn WHERE id = '${txn}'`) === 'node-2', 60000, 250);
  const r = await resultAfterRestart(txn, false, env2);
  assert.equal(r.status.code, 502, JSON.stringify(r));
  assert.equal(stack.sql(`SELECT node FROM txn_event WHERE txn = '${txn}' AND state = 'DONE'`),
               'node-2');
  verifyCms(r.cms, 'r-takeover');
  assert.match(stack.kysoctl('audit', 'verify'), /audit OK/);
});
