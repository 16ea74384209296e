// Integration, end to end through a token: an AP's `sign` on /v1/ws with channel
// `pcsc` reaches the stack's kyso-pcsc-agent, the kyso-vcard token signs, the gateway answers
// 502 with a CMS that openssl verifies; approve then issue with the clerk's seal token, the
// document row APPROVED then ISSUED, an attachment refused for a number not issued and signed
// for the issued one, three approve-then-issue pipelines at once on both tokens; a wrong
// PIN (the agent's PIN file) with its tries left; the agent killed after the prompt (208/2082)
// and announcing again when restarted; three wrong PINs: 402/4021, the credential locked and
// one recovery case for the province (REGULATION.md B15).
// The demo seal credential (KYSO_DEMO_SEAL_CREDENTIAL) is the clerk's vcard-2 token; the token
// signer's credential is imported here from vcard-1's certificate, named by its key id.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Stack, connect, waitFor, MqttProbe } from './lib/stack.mjs';

const stack = new Stack({ name: 'agent-signing' });
let env;

const derOf = (pemFile) => Buffer.from(readFileSync(pemFile, 'utf8')
  .replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
const keyIdOf = (pemFile) => createHash('sha256').update(derOf(pemFile)).digest('hex');
const pinFile = () => path.join(stack.dir, 'agent-pin');
const setPin = (pin) => writeFileSync(pinFile(), `${pin}\n`, { mode: 0o600 });

test.before(() => {
  env = stack.up().env;
  stack.kysoctl('credential', 'import', '--cert', env.KYSO_VCARD1_CERT, '--org', env.KYSO_DEMO_ORG,
                '--person', env.KYSO_TOKEN_SIGNER, '--type', 'personal', '--device', 'token',
                '--token-serial', keyIdOf(env.KYSO_VCARD1_CERT));
});
test.after(() => stack.down());

let seq = 0;
let issuedNumber; // the number of the document the issue test issued

// The document row (migration 0005) as "state|approve_txn|issue_txn|class".
const documentRow = (digest) => stack.sql(
  "SELECT state || '|' || coalesce(approve_txn, '') || '|' || coalesce(issue_txn, '') || '|' || " +
  `doc_class FROM document WHERE org = '${env.KYSO_DEMO_ORG}' AND digest = '${digest}'`);

function signRequest(mode, signer, doc, extra = {}) {
  seq += 1;
  return {
    type: 'sign', id: `s-${seq}`, ap_trans_id: `AGENT-IT-${seq}-${Date.now()}`,
    signer, channel: 'pcsc', mode,
    document: { digest: createHash('sha256').update(doc).digest('base64'), digest_alg: 'SHA-256',
                org: env.KYSO_DEMO_ORG, class: 'quyet-dinh', secrecy: 'none',
                title: 'Quyết định thử', number: `${seq}/QĐ-UBND`, ...extra },
    display: 'Ký duyệt văn bản thử', format: 'cms', timeout_s: 30,
  };
}

// Sends a request and collects its frames up to the final result.
async function run(c, req, onProgress = () => {}) {
  const accepted = await c.request(req, 15000);
  assert.equal(accepted.type, 'accepted', JSON.stringify(accepted));
  for (;;) {
    const f = await c.next(60000);
    if (f.txn !== accepted.txn) continue;
    if (f.type === 'progress') { await onProgress(f); continue; }
    if (f.type === 'result') return { accepted, result: f };
  }
}

function cmsVerifies(cmsB64, doc) {
  const dir = stack.dir;
  writeFileSync(path.join(dir, 'it.cms'), Buffer.from(cmsB64, 'base64'));
  writeFileSync(path.join(dir, 'it.doc'), doc);
  execFileSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER',
                           '-in', path.join(dir, 'it.cms'), '-content', path.join(dir, 'it.doc'),
                           '-CAfile', env.KYSO_PCSC_CA_FILE, '-purpose', 'any',
                           '-out', '/dev/null'], { stdio: 'pipe' });
  return true;
}

test('approve with the official token: 502 and a CMS that openssl verifies', async () => {
  const c = await connect(env);
  const doc = randomBytes(2000);
  const states = [];
  const { result } = await run(c, signRequest('approve', { subscriber_id: env.KYSO_TOKEN_SIGNER },
                                              doc), (p) => states.push(p.state));
  assert.equal(result.status.code, 502, JSON.stringify(result.status));
  assert.ok(states.includes('submitted') && states.includes('awaiting_user'), states.join());
  assert.ok(cmsVerifies(result.cms, doc));
  await c.close();
});

// The stack's SIM clock runs 1000-fold here, so a SIM transaction's deadline is milliseconds
// of real time and its end is not asserted; what is asserted is the credential chosen.
test('channel auto: for a signer with a SIM and a token, approve picks the SIM', async () => {
  const c = await connect(env);
  const { accepted, result } = await run(c, {
    ...signRequest('approve', { subscriber_id: env.KYSO_TOKEN_SIGNER }, randomBytes(64)),
    channel: 'auto' });
  assert.equal(result.type, 'result');
  assert.equal(stack.sql('SELECT device FROM credential WHERE id::text = ' +
                         `(SELECT credential FROM txn WHERE id = '${accepted.txn}')`), 'sim');
  await c.close();
});

test('approve then issue on one digest with the clerk seal token', async () => {
  const c = await connect(env);
  const doc = randomBytes(3000);
  const approveReq = signRequest('approve', { subscriber_id: env.KYSO_TOKEN_SIGNER }, doc);
  const approve = await run(c, approveReq);
  assert.equal(approve.result.status.code, 502);
  // The approve's final commit wrote the document (ARCHITECTURE.md 5): APPROVED, its txn.
  const digest = approveReq.document.digest;
  assert.equal(documentRow(digest), `APPROVED|${approve.accepted.txn}||quyet-dinh`);
  const issueReq = signRequest('issue', { subscriber_id: env.KYSO_DEMO_CLERK }, doc,
                               { approval_txn: approve.accepted.txn });
  const issue = await run(c, issueReq);
  assert.equal(issue.result.status.code, 502, JSON.stringify(issue.result.status));
  assert.ok(cmsVerifies(issue.result.cms, doc));
  assert.equal(documentRow(digest), `ISSUED|${approve.accepted.txn}|${issue.accepted.txn}|` +
                                    'quyet-dinh');
  assert.equal(stack.sql(`SELECT number FROM document WHERE org = '${env.KYSO_DEMO_ORG}' ` +
                         `AND digest = '${digest}'`), issueReq.document.number);
  issuedNumber = issueReq.document.number;
  // The same approve named for another document: D9 (and C5) refuse, no device contact.
  const other = await c.request(signRequest('issue', { subscriber_id: env.KYSO_DEMO_CLERK },
                                            randomBytes(100),
                                            { approval_txn: approve.accepted.txn }), 15000);
  assert.deepEqual([other.type, other.status.code, other.status.sub, other.rule],
                   ['error', 104, 1050, 'D9'], JSON.stringify(other));
  await c.close();
});

test('attachment: refused 104/1062 for a number not issued, signed for the issued one',
     async () => {
  assert.ok(issuedNumber, 'the issue test ran first');
  const c = await connect(env);
  const file = randomBytes(1500);
  const unissued = await c.request(signRequest('attachment', { subscriber_id: env.KYSO_DEMO_CLERK },
                                               file, { number: '999/QĐ-UBND' }), 15000);
  assert.deepEqual([unissued.type, unissued.status.code, unissued.status.sub, unissued.rule,
                    unissued.reason],
                   ['error', 104, 1062, 'attachment', 'MAIN_DOCUMENT_NOT_ISSUED'],
                   JSON.stringify(unissued));
  const attached = await run(c, signRequest('attachment', { subscriber_id: env.KYSO_DEMO_CLERK },
                                            file, { number: issuedNumber }));
  assert.equal(attached.result.status.code, 502, JSON.stringify(attached.result.status));
  assert.ok(cmsVerifies(attached.result.cms, file));
  // An attachment is not a document of its own: no row for its digest.
  const fileDigest = createHash('sha256').update(file).digest('base64');
  assert.equal(stack.sql(`SELECT count(*) FROM document WHERE org = '${env.KYSO_DEMO_ORG}' AND ` +
                         `digest = '${fileDigest}'`), '0');
  await c.close();
});

// Three approve-then-issue pipelines at once, one per connection: the official's requests queue
// behind each other (one per signer) while the seal token issues the other pipeline's
// document. A request the signer queue releases before its accept commit has returned must
// still get its own answer (the channel routes events by the txn's ref): every result 502,
// every issue CMS verifying, none left to its deadline.
test('three approve-then-issue pipelines at once: every result 502', async () => {
  const pairs = 10;
  const pipeline = async (n) => {
    const c = await connect(env);
    const out = [];
    for (let i = 0; i < pairs; i++) {
      const doc = randomBytes(500 + 20 * n + i);
      const a = await run(c, signRequest('approve', { subscriber_id: env.KYSO_TOKEN_SIGNER }, doc));
      out.push(a.result.status.code);
      if (a.result.status.code !== 502) break;
      const is = await run(c, signRequest('issue', { subscriber_id: env.KYSO_DEMO_CLERK }, doc,
                                          { approval_txn: a.accepted.txn }));
      out.push(is.result.status.code);
      if (is.result.status.code !== 502) break;
      if (i === pairs - 1) out.push({ doc, cms: is.result.cms });
    }
    await c.close();
    return out;
  };
  const all = await Promise.all([pipeline(0), pipeline(1), pipeline(2)]);
  const codes = all.map((o) => o.filter((x) => typeof x === 'number'));
  assert.deepEqual(codes, [0, 1, 2].map(() => Array(2 * pairs).fill(502)), JSON.stringify(codes));
  // The last issue of each pipeline is the seal's signature on that pipeline's own document.
  for (const o of all) assert.ok(cmsVerifies(o.at(-1).cms, o.at(-1).doc));
});

test('a wrong PIN: 401/4015 with two tries left, the right one resets the counter', async () => {
  const c = await connect(env);
  setPin('999999');
  const { result } = await run(c, signRequest('approve', { subscriber_id: env.KYSO_TOKEN_SIGNER },
                                              'wrong pin'));
  assert.deepEqual([result.status.code, result.status.sub], [401, 4015]);
  assert.equal(result.status.channel.retries_left, 2);
  setPin('123456');
  const ok = await run(c, signRequest('approve', { subscriber_id: env.KYSO_TOKEN_SIGNER }, 'ok'));
  assert.equal(ok.result.status.code, 502);
  await c.close();
});

test('the agent killed after the prompt: 208/2082 at the deadline; restarted, it announces',
     async () => {
  process.env.KYSO_VCARD1_EXTRA = '--sign-delay-ms 3000';
  // The agent announces the token set when a card leaves and when it returns; a request sent
  // before the return is announced finds no agent holding the token (209/2092 at once), which
  // is not what this test is about.
  const holds = () => stack.sql(
    "select detail::text from node_event where kind = 'agent.tokens' order by id desc limit 1")
    .includes(env.KYSO_VCARD1_READER);
  stack.stop('vcard-1');
  await waitFor('the agent saw the card leave', () => !holds());
  stack.start('vcard-1');
  await waitFor('the agent announced the card again', () => holds());
  const c = await connect(env);
  const req = signRequest('approve', { subscriber_id: env.KYSO_TOKEN_SIGNER }, 'killed');
  req.timeout_s = 10;
  const { result } = await run(c, req, async (p) => {
    if (p.state === 'awaiting_user') {
      const pid = readFileSync(path.join(stack.dir, 'agent.pid'), 'utf8').trim();
      process.kill(Number(pid), 'SIGKILL');
    }
  });
  assert.deepEqual([result.status.code, result.status.sub], [208, 2082]);
  delete process.env.KYSO_VCARD1_EXTRA;
  stack.stop('vcard-1');
  stack.start('vcard-1');
  const before = Number(stack.sql("select count(*) from node_event where kind = 'agent.tokens'"));
  stack.start('agent');
  await waitFor('announced again', () =>
    Number(stack.sql("select count(*) from node_event where kind = 'agent.tokens'")) > before);
  await c.close();
});

test('three wrong PINs: 402/4021, a recovery case for dong-nai, then refused at once',
     async (t) => {
  const probe = new MqttProbe(env, 'kyso/v1/recovery/#');
  t.after(() => probe.stop());
  await waitFor('subscribed', () => probe.ready());
  const c = await connect(env);
  setPin('999999');
  let last;
  for (let i = 0; i < 3; i++) {
    last = (await run(c, signRequest('approve', { subscriber_id: env.KYSO_TOKEN_SIGNER },
                                     `block ${i}`))).result;
  }
  assert.deepEqual([last.status.code, last.status.sub], [402, 4021]);
  const cases = await waitFor('recovery case', () => {
    const m = probe.messages((l) => l.topic === 'kyso/v1/recovery/dong-nai');
    return m.length > 0 ? m : null;
  });
  assert.equal(cases.length, 1);
  assert.equal(cases[0].msg.device, 'token');
  assert.equal(cases[0].msg.destination, 'dong-nai');
  const refused = await c.request(signRequest('approve', { subscriber_id: env.KYSO_TOKEN_SIGNER },
                                              'after block'));
  assert.deepEqual([refused.type, refused.status.code, refused.status.sub], ['error', 402, 4021]);
  setPin('123456');
  await c.close();
});
