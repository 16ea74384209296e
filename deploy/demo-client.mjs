// The demo's client, an application provider (demo-ap) talking to the stack whose stack.env
// is given: an authenticated ping, a refused wrong key, a document signed through the demo
// signer's profile-00 SIM on kyso-carrier-sim (every event printed as it arrives, the CMS saved
// and checked with `openssl cms -verify` against the test root), a secret document refused
// under REGULATION.md A1 (107/1071), then the same document approved by the Phó Chủ tịch with
// his PC/SC token and issued by the clerk with the organisation's seal token (issue mode naming
// the approve txn, REGULATION.md C5/D9), both through the stack's kyso-pcsc-agent and both CMS
// checked with openssl. Exits 0 when all of it went as expected, 1 otherwise.
// Uses the `ws` package installed for the integration tests.
//
//   node deploy/demo-client.mjs DIR/stack.env [OUT_DIR]
//     OUT_DIR   where the sample document and its signature go (default: the stack's DIR)
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'tests', 'integration', 'package.json'));
const WebSocket = require('ws');

const FRAME_WAIT_MS = 30000; // a frame that takes longer than this means something is stuck

function loadEnv(file) {
  const env = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = line.match(/^(?:export\s+)?([A-Z0-9_]+)=(.*)$/);
    if (m) env[m[1]] = m[2].replace(/^'(.*)'$/, '$1').replace(/^"(.*)"$/, '$1');
  }
  return env;
}

function open(env, key) {
  const headers = key ? { Authorization: `Bearer ${key}` } : {};
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(env.KYSO_WS_URL, 'kyso.v1',
                             { ca: readFileSync(env.KYSO_CA_FILE), headers });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}`),
                                               { status: res.statusCode, body })));
    });
    ws.once('error', reject);
  });
}

// Frames in arrival order; next() waits for the following one.
function framesOf(ws) {
  const queue = [], waiters = [];
  ws.on('message', (d) => {
    const f = JSON.parse(d.toString());
    const w = waiters.shift();
    if (w) w(f); else queue.push(f);
  });
  return {
    next() {
      if (queue.length) return Promise.resolve(queue.shift());
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no frame within ${FRAME_WAIT_MS} ms`)),
                             FRAME_WAIT_MS);
        waiters.push((f) => { clearTimeout(t); resolve(f); });
      });
    },
  };
}

const short = (s, n = 24) => (typeof s === 'string' && s.length > n ? `${s.slice(0, n)}…` : s);

// One line per frame: the fields that tell the story, big base64 fields shortened.
function describe(f) {
  const st = f.status ? ` ${f.status.code}${f.status.sub ? `/${f.status.sub}` : ''} ` +
                        `${f.status.name || ''}` : '';
  switch (f.type) {
  case 'accepted':
    return `accepted     txn ${f.txn}, verification code ${f.verification_code}${st}` +
           (f.warnings ? `, warnings ${f.warnings.map((w) => w.rule).join(',')}` : '');
  case 'progress':
    return `progress     ${f.state}${st}`;
  case 'result':
    return `result      ${st}` + (f.signed_at ? `, signed at ${f.signed_at}` : '') +
           (f.cms ? `, cms ${short(f.cms)} (${Buffer.from(f.cms, 'base64').length} bytes)` : '');
  case 'error':
    return `error       ${st}${f.rule ? `, rule ${f.rule} ${f.reason}` : ''}` +
           (f.message ? `: ${f.message.en}` : '');
  default:
    return `${f.type.padEnd(12)} ${short(JSON.stringify(f), 100)}`;
  }
}

function signRequest(env, id, digest, secrecy) {
  return {
    type: 'sign', id, ap_trans_id: `demo-${id}-${Date.now()}`,
    signer: { msisdn: env.KYSO_DEMO_SIGNER_MSISDN }, channel: 'sim', mode: 'approve',
    document: { digest, digest_alg: 'SHA-256', org: env.KYSO_DEMO_ORG, class: 'quyet-dinh',
                secrecy },
    display: 'Ky duyet QD 123/QD-UBND', format: 'cms', timeout_s: 120,
  };
}

// A sign request through a PC/SC token held by the stack's agent: the signer is named by the
// directory id, the gateway picks the person's token credential (channel pcsc).
function tokenRequest(env, id, mode, subscriberId, digest, extra = {}) {
  return {
    type: 'sign', id, ap_trans_id: `demo-${id}-${Date.now()}`,
    signer: { subscriber_id: subscriberId }, channel: 'pcsc', mode,
    document: { digest, digest_alg: 'SHA-256', org: env.KYSO_DEMO_ORG, class: 'quyet-dinh',
                secrecy: 'none', ...extra },
    display: mode === 'issue' ? 'Ban hanh QD 123/QD-UBND' : 'Ky duyet QD 123/QD-UBND',
    format: 'cms', timeout_s: 60,
  };
}

async function pingAndWrongKey(env) {
  const ws = await open(env, env.KYSO_AP_KEY);
  const frames = framesOf(ws);
  const sent = { type: 'ping', id: 'demo-1' };
  console.log(`  AP demo-ap -> ${JSON.stringify(sent)}`);
  ws.send(JSON.stringify(sent));
  console.log(`  gateway    <- ${JSON.stringify(await frames.next())}`);
  ws.close(1000);
  try {
    await open(env, 'kyso_demo-ap_' + '0'.repeat(64));
    console.log('  a wrong key was accepted: this is a bug');
    return false;
  } catch (e) {
    console.log(`  a wrong key  -> refused before the upgrade: ${e.message} ${e.body || ''}`);
    return true;
  }
}

// Sends the sign request and prints every frame until its result (or a refusal).
async function signAndFollow(ws, frames, req, scale) {
  const t0 = Date.now();
  let txn;
  ws.send(JSON.stringify(req));
  for (;;) {
    const f = await frames.next();
    const ms = Date.now() - t0;
    // At a scale above 1, the simulated seconds (what a real phone would have taken).
    const clock = scale > 1 ? ` (${(ms * scale / 1000).toFixed(1).padStart(6)} s simulated)` : '';
    console.log(`  +${String(ms).padStart(5)} ms${clock}  ${describe(f)}`);
    if (f.type === 'error' && f.id === req.id) return f;
    if (f.type === 'accepted' && f.id === req.id) txn = f.txn;
    if (f.type === 'result' && f.txn === txn) return f;
  }
}

function verifyCms(env, docFile, cmsFile) {
  const args = ['cms', '-verify', '-binary', '-inform', 'DER', '-in', cmsFile,
                '-content', docFile, '-CAfile', env.KYSO_TEST_ROOT_CA, '-purpose', 'any',
                '-out', '/dev/null'];
  console.log(`  $ openssl ${args.join(' ')}`);
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  for (const line of `${r.stdout}${r.stderr}`.trim().split('\n')) console.log(`    ${line}`);
  return r.status === 0;
}

// The signer certificate's subject, from the result's signer_cert (base64 DER).
function signerSubject(certB64) {
  const r = spawnSync('openssl', ['x509', '-inform', 'DER', '-noout', '-subject', '-nameopt',
                                  'utf8,sep_comma_plus_space'],
                      { input: Buffer.from(certB64 || '', 'base64'), encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : '(the result carries no readable certificate)';
}

const DOCUMENT_TEXT = 'ỦY BAN NHÂN DÂN TỈNH ĐỒNG NAI\nQuyết định số 123/QĐ-UBND\n' +
                      'Về việc phê duyệt kế hoạch thử nghiệm chữ ký số chuyên dùng công vụ.\n';

// Writes the sample document into outDir; returns its file and base64 SHA-256.
function writeDocument(outDir) {
  const docFile = path.join(outDir, 'demo-document.txt');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(docFile, DOCUMENT_TEXT);
  return { docFile, digest: createHash('sha256').update(DOCUMENT_TEXT).digest('base64') };
}

// A result 502 with a CMS: saved to cmsFile, its signer printed, verified with openssl.
function checkSigned(env, r, docFile, cmsFile) {
  if (r.type !== 'result' || r.status.code !== 502 || !r.cms) {
    console.log(`  expected a result 502 with a CMS, got ${JSON.stringify(r.status || r)}`);
    return false;
  }
  writeFileSync(cmsFile, Buffer.from(r.cms, 'base64'));
  console.log(`  CMS saved  ${cmsFile}`);
  console.log(`  signed by  ${signerSubject(r.signer_cert)}`);
  const ok = verifyCms(env, docFile, cmsFile);
  console.log(ok ? '  the signature verifies against the test root CA'
                 : '  the signature did NOT verify: this is a bug');
  return ok;
}

async function signDocument(env, outDir) {
  const scale = Number(env.KYSO_GATEWAY_TIME_SCALE || 1);
  const { docFile, digest } = writeDocument(outDir);
  const cmsFile = path.join(outDir, 'demo-document.p7s');
  console.log(`  document   ${docFile} (SHA-256 ${digest})`);
  console.log(`  signer     ${env.KYSO_DEMO_SIGNER}, SIM ${env.KYSO_DEMO_SIGNER_MSISDN} ` +
              '(simulator profile 00: the official approves after reading and entering the PIN)');
  if (scale > 1)
    console.log(`  clock      the simulator and the gateway run ${scale}x faster than real time`);

  const ws = await open(env, env.KYSO_AP_KEY);
  const frames = framesOf(ws);
  let ok = true;
  try {
    const req = signRequest(env, 'demo-sign', digest, 'none');
    console.log(`  AP demo-ap -> sign ${JSON.stringify({ ...req.document, digest: short(digest, 12) })}`);
    const r = await signAndFollow(ws, frames, req, scale);
    ok = checkSigned(env, r, docFile, cmsFile);

    console.log();
    console.log('  the same signer, a secret document ("mat", REGULATION.md A1):');
    const secret = signRequest(env, 'demo-secret', digest, 'mat');
    const e = await signAndFollow(ws, frames, secret, scale);
    if (e.type !== 'error' || e.status.code !== 107 || e.status.sub !== 1071) {
      console.log('  expected an error 107/1071: this is a bug');
      ok = false;
    } else {
      console.log('  refused before any SMS: no transaction, nothing reached the SIM');
    }
  } finally {
    ws.close(1000);
  }
  return ok;
}

// The SHA-256 of a PEM certificate's DER: the key id the agent announces for the token.
function keyIdOf(pemFile) {
  const der = Buffer.from(readFileSync(pemFile, 'utf8').replace(/-----[^-]+-----/g, '')
                            .replace(/\s+/g, ''), 'base64');
  return createHash('sha256').update(der).digest('hex');
}

// The Phó Chủ tịch's token (the stack's vcard-1) becomes his personal credential, named by
// its key id. The clerk's seal token is registered by the stack's demo data already. Importing
// the same certificate again changes nothing, so a second run of the demo is the same.
function registerOfficialToken(env) {
  const args = ['credential', 'import', '--cert', env.KYSO_VCARD1_CERT, '--org', env.KYSO_DEMO_ORG,
                '--person', env.KYSO_TOKEN_SIGNER, '--type', 'personal', '--device', 'token',
                '--token-serial', keyIdOf(env.KYSO_VCARD1_CERT), '--json'];
  console.log(`  $ kysoctl ${args.map((a) => (a.includes(' ') ? `'${a}'` : a)).join(' ')}`);
  const quoted = args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = spawnSync('sh', ['-c', `${env.KYSO_KYSOCTL} ${quoted}`], { encoding: 'utf8' });
  if (r.status !== 0) {
    console.log(`    failed: ${(r.stderr || '').trim()}`);
    return false;
  }
  const created = /"created":\s*true/.test(r.stdout);
  console.log(`    ${created ? 'registered' : 'registered already'}: the token's credential`);
  return true;
}

// Waits (bounded) until the stack's agent has announced both tokens to the gateway: its
// latest agent.tokens node event, after its latest hello (the events of an earlier run of the
// demo stay in the database), names both readers. A request sent before that finds no agent
// holding the token (209/2092).
async function awaitTokens(env) {
  const mine = `detail->>'agent_id' = '${env.KYSO_AGENT_ID}'`;
  const query = `select detail::text from node_event where kind = 'agent.tokens' and ${mine} ` +
                'and id > (select coalesce(max(id), 0) from node_event where ' +
                `kind = 'agent.hello' and ${mine}) order by id desc limit 1`;
  const end = Date.now() + FRAME_WAIT_MS;
  while (Date.now() < end) {
    const r = spawnSync('psql', ['-X', '-At', env.KYSO_PG_URL, '-c', query], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.includes(env.KYSO_VCARD1_READER) &&
        r.stdout.includes(env.KYSO_VCARD2_READER)) {
      console.log(`  agent      ${env.KYSO_AGENT_ID} holds both tokens: "${env.KYSO_VCARD1_READER}" ` +
                  `(the Phó Chủ tịch's, RSA-2048), "${env.KYSO_VCARD2_READER}" (the seal, P-256)`);
      return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  console.log(`  the agent did not announce both tokens within ${FRAME_WAIT_MS} ms ` +
              `(agent log: ${env.KYSO_AGENT_LOG})`);
  return false;
}

// The same document approved with the official's token, then issued with the organisation's
// seal token on the same digest, the issue naming the approve txn (REGULATION.md C5, D9).
async function tokenDocument(env, outDir) {
  const { docFile, digest } = writeDocument(outDir);
  console.log(`  document   ${docFile} (SHA-256 ${digest})`);
  if (!registerOfficialToken(env) || !(await awaitTokens(env))) return false;
  console.log('  PIN        the agent reads the tokens\' PIN from its 0600 PIN file ' +
              '(test setup; a real agent asks the holder)');
  const ws = await open(env, env.KYSO_AP_KEY);
  const frames = framesOf(ws);
  try {
    console.log();
    console.log(`  approve by ${env.KYSO_TOKEN_SIGNER} (Phó Chủ tịch) with his token:`);
    const approve = tokenRequest(env, 'demo-token-approve', 'approve', env.KYSO_TOKEN_SIGNER,
                                 digest);
    const a = await signAndFollow(ws, frames, approve, 1);
    if (!checkSigned(env, a, docFile, path.join(outDir, 'demo-document.approve.p7s')))
      return false;
    console.log();
    console.log(`  issue by ${env.KYSO_DEMO_CLERK} (Văn thư) with the seal token, ` +
                `document.approval_txn ${a.txn}:`);
    const issue = tokenRequest(env, 'demo-token-issue', 'issue', env.KYSO_DEMO_CLERK, digest,
                               { approval_txn: a.txn });
    const i = await signAndFollow(ws, frames, issue, 1);
    return checkSigned(env, i, docFile, path.join(outDir, 'demo-document.issue.p7s'));
  } finally {
    ws.close(1000);
  }
}

const env = loadEnv(process.argv[2]);
const outDir = process.argv[3] || env.KYSO_STACK_DIR || path.dirname(process.argv[2]);
let ok = false;
try {
  console.log('-- an authenticated ping and a wrong key');
  ok = await pingAndWrongKey(env);
  console.log();
  console.log('-- a document signed through the SIM');
  if (!env.KYSO_DEMO_SIGNER_MSISDN || !env.KYSO_SMSC_PORT) {
    console.log('  the stack has no simulator or no demo signer: nothing to sign with');
    ok = false;
  } else {
    ok = (await signDocument(env, outDir)) && ok;
  }
  console.log();
  console.log('-- the same document approved and issued through PC/SC tokens');
  if (!env.KYSO_AGENT_ID || !env.KYSO_VCARD1_CERT || !env.KYSO_DEMO_CLERK) {
    console.log('  the stack has no pcsc component, agent or demo clerk: no token to sign with');
    ok = false;
  } else {
    ok = (await tokenDocument(env, outDir)) && ok;
  }
} catch (e) {
  console.log(`  failed: ${e.message}`);
  ok = false;
}
process.exit(ok ? 0 : 1);
