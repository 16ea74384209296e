// Integration: two gateway nodes on one database and broker (ARCHITECTURE.md section 6).
// - Answers on any node: the AP signs on node 1, the simulator delivers the card's answer to
//   node 2's bind (smsc.set mo_system_type, docs/carrier-sim.md); node 2 finds the transaction
//   by txn.ref, verifies and commits, and node 1 pushes the result to the AP's socket once.
// - Lease takeover: node 1 is killed with SIGKILL with open transactions; node 2 takes them
//   over when the lease runs out and each ends exactly once.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Stack, connect, simCtl, waitFor } from './lib/stack.mjs';

// One scaled clock at 10, like sim-profiles.test.mjs: a SIM deadline of timeout_s runs
// timeout_s / 10 real seconds.
const stack = new Stack({ name: 'scale-out', args: ['--nodes', '2'],
                          env: { KYSO_SIM_TIME_SCALE: '10' } });
let env, env2;
const work = mkdtempSync(path.join(tmpdir(), 'kyso-it-scale-'));
const text = 'Công văn 45/UBND-VP — hai nút\n';
const doc = path.join(work, 'doc.txt');
writeFileSync(doc, text);
const digest = createHash('sha256').update(text).digest('base64');
const FINALS = "('DONE','FAILED','EXPIRED','CANCELLED')";

const ctl = (obj) => simCtl(env, obj);

function sign(id, msisdn, over = {}) {
  return { type: 'sign', id, ap_trans_id: `${id}-${Date.now()}`, signer: { msisdn },
           channel: 'sim', mode: 'approve',
           document: { digest, digest_alg: 'SHA-256', org: env.KYSO_DEMO_ORG,
                       class: 'quyet-dinh', secrecy: 'none' },
           display: 'Ky cong van 45', format: 'cms', timeout_s: 60, ...over };
}

// Every frame of txn up to its result; fails on a second result or a seq seen twice.
async function framesUntilResult(c, reqId) {
  const frames = [];
  let txn;
  for (;;) {
    const f = await c.next(60000);
    if (f.type === 'error' && f.id === reqId) throw new Error(JSON.stringify(f));
    if (f.type === 'accepted' && f.id === reqId) txn = f.txn;
    if (txn === undefined || f.txn !== txn) continue;
    frames.push(f);
    if (f.type === 'result') return { txn, frames };
  }
}

function assertOnce(frames) {
  const seqs = frames.map((f) => f.seq);
  assert.deepEqual(seqs, [...new Set(seqs)].sort((a, b) => a - b), `seqs ${seqs}`);
  assert.equal(frames.filter((f) => f.type === 'result').length, 1);
}

test.before(async () => {
  env = stack.up().env;
  env2 = { ...env, KYSO_WS_URL: env.KYSO_NODE2_WS_URL };
  // Both nodes bound (system_type node-1, node-2), then answers go to node 2's bind only.
  await waitFor('both nodes bound to the simulator', () =>
    ctl({ cmd: 'smsc.binds' }).accounts.some((a) => a.binds >= 2), 60000, 250);
  ctl({ cmd: 'smsc.set', mo_system_type: 'node-2' });
});
test.after(() => { stack.down(); rmSync(work, { recursive: true, force: true }); });

test('a SIM answer that reaches node 2 finishes node 1\'s transaction; node 1 pushes the ' +
     'result once', async () => {
  const c = await connect(env); // node 1
  c.send(sign('x-ok', '84900100005')); // profile 01: approves after 50 ms
  const { txn, frames } = await framesUntilResult(c, 'x-ok');
  const r = frames[frames.length - 1];
  assert.equal(r.status.code, 502, JSON.stringify(r));
  assertOnce(frames);
  assert.ok(frames.some((f) => f.type === 'progress' && f.state === 'verifying'));
  // node 2 recorded the answer and the result; node 1 the acceptance
  assert.equal(stack.sql(`SELECT owner_node FROM txn WHERE id = '${txn}'`), 'node-1');
  assert.equal(stack.sql(`SELECT node FROM txn_event WHERE txn = '${txn}' AND seq = 1`), 'node-1');
  assert.equal(stack.sql(`SELECT string_agg(state || ':' || node, ',' ORDER BY seq) ` +
                         `FROM txn_event WHERE txn = '${txn}' AND state IN ('SIGNED', 'DONE')`),
               'SIGNED:node-2,DONE:node-2');
  assert.equal(stack.sql(`SELECT count(*) FROM txn_event WHERE txn = '${txn}' ` +
                         `AND state IN ${FINALS}`), '1');
  const ref = stack.sql(`SELECT ref FROM txn WHERE id = '${txn}'`);
  assert.equal(stack.sql("SELECT count(*) FROM node_event WHERE kind = 'txn.late' " +
                         `AND detail->>'ref' = '${ref}'`), '0');
  // the CMS node 2 assembled verifies like one node 1 would have made
  const cms = path.join(work, 'x-ok.der');
  writeFileSync(cms, Buffer.from(r.cms, 'base64'));
  execFileSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', cms,
                           '-content', doc, '-CAfile', env.KYSO_TEST_ROOT_CA,
                           '-purpose', 'any', '-out', '/dev/null'], { stdio: 'pipe' });
  // node 1 dropped the transaction: its status now comes from the database
  const st = await c.request({ type: 'status', id: 'st-x-ok', txn });
  assert.equal(st.type, 'result');
  assert.equal(st.status.code, 502);
  await c.close();
});

test('a refusal on the card (user cancel) reaching node 2 ends node 1\'s transaction',
     async () => {
  const c = await connect(env);
  c.send(sign('x-cancel', '84900200005', { format: 'pkcs1' })); // profile 02: TR 10 after 1 s
  const { txn, frames } = await framesUntilResult(c, 'x-cancel');
  const r = frames[frames.length - 1];
  assert.equal(r.status.code, 401);
  assert.equal(r.status.sub, 4011);
  assertOnce(frames);
  assert.equal(stack.sql(`SELECT state || ':' || node FROM txn_event WHERE txn = '${txn}' ` +
                         `AND state IN ${FINALS}`), 'FAILED:node-2');
  await c.close();
});

test('the same signer twice: the second waits on node 1 and goes once node 2 ended the first',
     async () => {
  // The card takes 20 simulated seconds (2 s here) to answer: the second request meets the
  // first on the card.
  ctl({ cmd: 'sim.set', msisdn: '84900100006', delay_ms: 20000 });
  const c = await connect(env);
  const frames = new Map();
  const txnOf = {};
  const take = (f) => {
    if (f.type === 'error') throw new Error(JSON.stringify(f));
    if (f.type === 'accepted') { txnOf[f.id] = f.txn; frames.set(f.txn, []); }
    if (frames.has(f.txn)) frames.get(f.txn).push(f);
  };
  c.send(sign('x-q1', '84900100006'));
  for (;;) {
    const f = await c.next(20000);
    take(f);
    if (f.type === 'progress' && f.state === 'submitted' && f.txn === txnOf['x-q1']) break;
  }
  c.send(sign('x-q2', '84900100006'));
  let done = 0;
  while (done < 2) {
    const f = await c.next(60000);
    take(f);
    if (f.type === 'result') done++;
  }
  const first = frames.get(txnOf['x-q1']), second = frames.get(txnOf['x-q2']);
  assert.equal(first[first.length - 1].status.code, 502);
  assert.equal(second[second.length - 1].status.code, 502);
  assert.deepEqual(second.slice(0, 3).map((f) => f.state || f.type),
                   ['accepted', 'queued', 'submitted']);
  assertOnce(first);
  assertOnce(second);
  // both finished by node 2, the second dispatched by node 1 after the first's result
  assert.equal(stack.sql("SELECT string_agg(node, ',' ORDER BY txn) FROM txn_event WHERE txn IN " +
                         `('${txnOf['x-q1']}', '${txnOf['x-q2']}') AND state = 'DONE'`),
               'node-2,node-2');
  await c.close();
});

test('the same signer on two nodes: the card is never on two requests; node 2\'s waits, ' +
     'queued, until node 1\'s has ended', async () => {
  // 2 s here per answer: node 2's request arrives while node 1's is on the card.
  ctl({ cmd: 'sim.set', msisdn: '84900100007', delay_ms: 20000 });
  const c1 = await connect(env);
  const c2 = await connect(env2);
  c1.send(sign('x-n1', '84900100007'));
  let t1;
  for (;;) {
    const f = await c1.next(20000);
    if (f.type === 'error') throw new Error(JSON.stringify(f));
    if (f.type === 'accepted') t1 = f.txn;
    if (f.type === 'progress' && f.state === 'submitted' && f.txn === t1) break;
  }
  c2.send(sign('x-n2', '84900100007'));
  const { txn: t2, frames } = await framesUntilResult(c2, 'x-n2');
  assert.equal(frames[frames.length - 1].status.code, 502, JSON.stringify(frames));
  assert.deepEqual(frames.slice(0, 3).map((f) => f.state || f.type),
                   ['accepted', 'queued', 'submitted']);
  assertOnce(frames);
  assert.equal(stack.sql(`SELECT state || ' ' || status FROM txn WHERE id = '${t1}'`), 'DONE 502');
  // node 2 sent its request only after node 1's ended (the lock lapses with txn.open)
  assert.equal(stack.sql(
    `SELECT (SELECT min(at) FROM txn_event WHERE txn = '${t2}' AND state = 'DISPATCHED') > ` +
    `(SELECT at FROM txn_event WHERE txn = '${t1}' AND state IN ${FINALS})`), 't');
  assert.match(readFileSync(path.join(stack.dir, 'gateway-2.log'), 'utf8'),
               new RegExp(`card on another node's request, waiting" txn=${t2}`));
  await c1.close();
  await c2.close();
});

// Sends sign requests on c and waits until each is on the card ('submitted'); their txn ids.
async function submitted(c, plan) {
  const txns = [];
  for (const [i, [msisdn, timeout]] of plan.entries()) {
    const req = sign(`x-${msisdn}-${i}`, msisdn, { timeout_s: timeout });
    c.send(req);
    for (;;) {
      const f = await c.next(20000);
      if (f.type === 'error') throw new Error(JSON.stringify(f));
      if (f.type === 'progress' && f.state === 'submitted' && txns.includes(f.txn)) break;
      if (f.type === 'accepted' && f.id === req.id) txns.push(f.txn);
    }
  }
  return txns;
}

test('node 1 paused past its lease: node 2 takes its transactions over, node 1 lets go of ' +
     'them when it resumes, each ends once on node 2', async () => {
  ctl({ cmd: 'smsc.set', dlr: false }); // no DLR: the requests stay DISPATCHED (208/2081)
  const c = await connect(env);
  // profile 05 never answers; 300 s is 30 s here, longer than the pause
  const txns = await submitted(c, [['84900500007', 300], ['84900500008', 300],
                                   ['84900500009', 300]]);
  const list = txns.map((t) => `'${t}'`).join(',');
  const pid = Number(readFileSync(path.join(stack.dir, 'gateway-1.pid'), 'utf8'));
  process.kill(pid, 'SIGSTOP');
  try {
    await waitFor('node 2 owns them', () => stack.sql(
      `SELECT count(*) FROM txn WHERE id IN (${list}) AND owner_node = 'node-2'`) === '3',
    60000, 250);
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  await waitFor('node 1 let go of them', () => txns.every((t) => stack.gatewayLog().includes(
    `msg="transaction taken over by another node" txn=${t} owner=node-2`)), 30000, 250);
  await waitFor('all final', () => stack.sql(
    `SELECT count(*) FROM txn WHERE id IN (${list}) AND state IN ${FINALS}`) === '3', 90000, 250);
  assert.equal(stack.sql(`SELECT string_agg(state || ' ' || status || ' ' || sub || ' ' || node, ` +
                         `',') FROM txn_event WHERE txn IN (${list}) AND state IN ${FINALS}`),
               'EXPIRED 208 2081 node-2,EXPIRED 208 2081 node-2,EXPIRED 208 2081 node-2');
  process.kill(pid, 0); // node 1 runs on
  await c.close();
});

test('node 1 killed with open transactions: node 2 takes them over at lease expiry, each ' +
     'ends once', async () => {
  ctl({ cmd: 'smsc.set', dlr: false });
  const c = await connect(env);
  // profile 05 never answers. timeout 100 (10 s real) is past when node 2 takes over, 300
  // (30 s real) is not: its timer is armed again from deadline_at.
  const txns = await submitted(c, [['84900500001', 100], ['84900500002', 100],
                                   ['84900500003', 300], ['84900500004', 300],
                                   ['84900500005', 300], ['84900500006', 300]]);
  const list = txns.map((t) => `'${t}'`).join(',');
  assert.equal(stack.sql(`SELECT count(*) FROM txn WHERE id IN (${list}) ` +
                         "AND state = 'DISPATCHED' AND owner_node = 'node-1'"), '6');
  process.kill(Number(readFileSync(path.join(stack.dir, 'gateway-1.pid'), 'utf8')), 'SIGKILL');
  await c.closed;
  await waitFor('node 2 owns them', () => stack.sql(
    `SELECT count(*) FROM txn WHERE id IN (${list}) AND owner_node = 'node-2'`) === '6',
  60000, 250);
  await waitFor('all final', () => stack.sql(
    `SELECT count(*) FROM txn WHERE id IN (${list}) AND state IN ${FINALS}`) === '6', 90000, 250);
  assert.equal(stack.sql(`SELECT count(*) FROM txn_event WHERE txn IN (${list}) ` +
                         `AND state IN ${FINALS}`), '6');
  assert.equal(stack.sql(`SELECT string_agg(DISTINCT state || ' ' || status || ' ' || sub || ` +
                         `' ' || node, ',') FROM txn_event WHERE txn IN (${list}) ` +
                         `AND state IN ${FINALS}`), 'EXPIRED 208 2081 node-2');
  // a session on node 2 reads the result
  const c2 = await connect(env2);
  const r = await c2.request({ type: 'status', id: 'st-k', txn: txns[3] });
  assert.equal(r.type, 'result');
  assert.equal(r.status.sub, 2081);
  await c2.close();
});

test('kysoctl audit verify is OK after all of it', () => {
  assert.match(stack.kysoctl('audit', 'verify'), /audit OK/);
});
