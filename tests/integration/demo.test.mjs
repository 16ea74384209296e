// Integration: the demo command itself, `deploy/demo --once` on a stack folder of its own (the
// stack of this build, KYSO_BUILD_DIR). It must exit 0 having signed the sample document
// through the SIM and through both PC/SC tokens (approve with the official's token, issue with
// the seal token naming that approve), each CMS verifying against the test root; run again on
// the same folder with a wrong token PIN it must exit 1 and say why (401/4015).
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { root } from './lib/stack.mjs';

const demo = path.join(root, 'deploy', 'demo');
let dir;

test.before(() => { dir = mkdtempSync(path.join(tmpdir(), 'kyso-it-demo-')); });
test.after(() => {
  spawnSync(path.join(root, 'deploy', 'stack'), ['down', '--dir', path.join(dir, 'stack')]);
  if (!process.env.KYSO_KEEP_STACK) rmSync(dir, { recursive: true, force: true });
});

function runDemo(extraEnv = {}) {
  return spawnSync(demo, ['--once', '--dir', path.join(dir, 'stack')],
                   { encoding: 'utf8', timeout: 600000, env: { ...process.env, ...extraEnv } });
}

// The root the demo verified against, from the stack's own variables.
function testRoot() {
  const line = readFileSync(path.join(dir, 'stack', 'stack.env'), 'utf8')
    .split('\n').find((l) => /^(export\s+)?KYSO_TEST_ROOT_CA=/.test(l));
  return line.replace(/^(export\s+)?KYSO_TEST_ROOT_CA=/, '').replace(/^'(.*)'$/, '$1');
}

const cmsSigner = (cmsFile) => execFileSync('openssl', [
  'cms', '-cmsout', '-print', '-inform', 'DER', '-in', cmsFile], { encoding: 'utf8' });

test('deploy/demo --once signs through the SIM and both tokens and exits 0', () => {
  const r = runDemo();
  const out = `${r.stdout}${r.stderr}`;
  assert.equal(r.status, 0, out);
  assert.equal((out.match(/CMS Verification successful/g) || []).length, 3, out);
  assert.match(out, /approve by dn-pho-chu-tich .*with his token/);
  assert.match(out, /issue by dn-van-thu .*document\.approval_txn [0-9a-f-]{36}/);
  // The issue names the txn the approve was accepted under.
  const approveTxn = out.match(/with his token:\n.*accepted\s+txn ([0-9a-f-]{36})/)[1];
  assert.ok(out.includes(`document.approval_txn ${approveTxn}`), out);
  assert.match(out, /registered: the token's credential/);
  assert.match(out, /audit OK/);

  // Each CMS verifies here too, independently of what the demo printed, and each is signed by
  // the certificate it should be: the official's RSA token, then the organisation's seal.
  const stackDir = path.join(dir, 'stack');
  const doc = path.join(stackDir, 'demo-document.txt');
  for (const [file, cn] of [['demo-document.p7s', '84900000000'],
                            ['demo-document.approve.p7s', 'Demo Official'],
                            ['demo-document.issue.p7s', 'UBND Dong Nai Seal']]) {
    const cms = path.join(stackDir, file);
    assert.ok(existsSync(cms), `${file} saved`);
    execFileSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', cms,
                             '-content', doc, '-CAfile', testRoot(), '-purpose', 'any',
                             '-out', '/dev/null'], { stdio: 'pipe' });
    assert.ok(cmsSigner(cms).includes(`CN=${cn}`), `${file} is signed by CN=${cn}`);
  }
});

test('run again with a wrong token PIN: the token approve fails 401/4015, exit 1', () => {
  const r = runDemo({ KYSO_TOKEN_PIN: '999999' });
  const out = `${r.stdout}${r.stderr}`;
  assert.equal(r.status, 1, out);
  assert.match(out, /registered already: the token's credential/);
  assert.match(out, /result\s+401\/4015/);
  assert.match(out, /something above did not go as expected/);
});
