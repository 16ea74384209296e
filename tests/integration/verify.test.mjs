// Integration: the test PKI (deploy/test-pki), the stack's `openssl ocsp` responder and the
// gateway's verifier and CMS code (run through kyso-verify-tool and kyso-cms-tool, built from
// gateway/src) against them. REGULATION.md section 6 and D1-D3; PROTOCOL.md section 5.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { writeFileSync, existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Stack } from './lib/stack.mjs';

const stack = new Stack({ name: 'verify', args: ['--only', 'tls,pki,ocsp'] });
let env;
const buildDir = process.env.KYSO_BUILD_DIR;
const tools = path.join(buildDir || '', 'tests', 'unit', 'verify');

test.before(() => {
  assert.ok(buildDir, 'KYSO_BUILD_DIR names the build folder (set by ctest)');
  assert.ok(existsSync(path.join(tools, 'kyso-verify-tool')), 'kyso-verify-tool is built');
  env = stack.up().env;
});
test.after(() => stack.down());

function issue(name, alg, ...extra) {
  const out = path.join(stack.dir, name);
  const serial = execFileSync(env.KYSO_TEST_PKI,
    ['issue', env.KYSO_PKI_DIR, '--cn', name, '--key-alg', alg, '--out', out, ...extra],
    { encoding: 'utf8' }).trim();
  assert.match(serial, /^[0-9A-F]+$/);
  return out;
}

// One JSON line per check.
function verify(cert, ...extra) {
  const out = execFileSync(path.join(tools, 'kyso-verify-tool'),
    ['--anchor', env.KYSO_TEST_ROOT_CA, '--intermediate', env.KYSO_TEST_ISSUING_CA,
     '--timeout-ms', '2000', ...extra, `${cert}.crt`],
    { encoding: 'utf8', timeout: 30000 });
  return out.trim().split('\n').map((l) => JSON.parse(l));
}

function openssl(...args) {
  return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

test('stack.env names the test PKI, its root and the OCSP responder', () => {
  assert.match(env.KYSO_OCSP_URL, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  assert.ok(existsSync(env.KYSO_TEST_ROOT_CA));
  assert.notEqual(env.KYSO_TEST_ROOT_CA, env.KYSO_CA_FILE, 'signing root is not the TLS CA');
  for (const f of ['root.crt', 'issuing.crt', 'ocsp.crt', 'index.txt', 'chain.pem', 'crl.pem'])
    assert.ok(existsSync(path.join(env.KYSO_PKI_DIR, f)), f);
  // The responder's certificate carries EKU OCSPSigning and chains to the root.
  const text = openssl('x509', '-noout', '-ext', 'extendedKeyUsage', '-in',
                       path.join(env.KYSO_PKI_DIR, 'ocsp.crt'));
  assert.match(text, /OCSP Signing/);
  openssl('verify', '-CAfile', env.KYSO_TEST_ROOT_CA, '-untrusted', env.KYSO_TEST_ISSUING_CA,
          path.join(env.KYSO_PKI_DIR, 'ocsp.crt'));
});

test('issued certificates carry the responder URL and verify to the root', () => {
  const c = issue('aia-check', 'ec-p256');
  const text = openssl('x509', '-noout', '-text', '-in', `${c}.crt`);
  assert.ok(text.includes(`OCSP - URI:${env.KYSO_OCSP_URL}`));
  assert.match(text, /CRL Distribution Points/);
  assert.match(text, /Digital Signature, Non Repudiation/);
  openssl('verify', '-CAfile', env.KYSO_TEST_ROOT_CA, '-untrusted', env.KYSO_TEST_ISSUING_CA,
          `${c}.crt`);
});

test('the responder answers good for a new certificate, the verifier says OK and caches it',
     () => {
  const c = issue('good-p256', 'ec-p256');
  const [first, second] = verify(c, '--repeat', '2');
  assert.equal(first.reason, 'OK');
  assert.equal(first.revocation, 'good');
  assert.equal(first.source, 'ocsp');
  assert.equal(second.revocation, 'good');
  assert.equal(second.source, 'cache-ocsp');
  // The openssl CLI agrees with the responder.
  const cli = openssl('ocsp', '-issuer', env.KYSO_TEST_ISSUING_CA, '-cert', `${c}.crt`,
                      '-url', env.KYSO_OCSP_URL, '-CAfile', env.KYSO_TEST_ROOT_CA);
  assert.match(cli, /: good/);
});

test('a certificate revoked at issue is refused before dispatch with 501 (D1)', () => {
  const c = issue('revoked-rsa', 'rsa-2048', '--revoked');
  const [r] = verify(c);
  assert.equal(r.reason, 'CERT_IS_REVOKED');
  assert.equal(r.code, 501);
  assert.equal(r.revocation, 'revoked');
});

test('a certificate revoked later is seen at once (the responder reloads its index)', () => {
  const c = issue('revoked-later', 'ec-p256');
  assert.equal(verify(c)[0].revocation, 'good');
  execFileSync(env.KYSO_TEST_PKI, ['revoke', env.KYSO_PKI_DIR, `${c}.crt`]);
  // A new verifier (a new process) has no cached answer.
  const [r] = verify(c);
  assert.equal(r.revocation, 'revoked');
  assert.equal(r.code, 501);
});

test('a valid signature verifies as 502 with status good (ECDSA and RSA)', () => {
  const doc = path.join(stack.dir, 'doc.txt');
  writeFileSync(doc, 'Công văn số 1/UBND: thử nghiệm ký số.\n');
  for (const [name, alg, scheme] of [['sig-ec', 'ec-p256', 'ecdsa'],
                                     ['sig-rsa', 'rsa-2048', 'pkcs1']]) {
    const c = issue(name, alg);
    execFileSync(path.join(tools, 'kyso-cms-tool'),
                 ['--pkcs1', `${c}.crt`, `${c}.key`, doc, `${c}.sig`]);
    const [r] = verify(c, '--sig', `${c}.sig`, '--doc', doc, '--scheme', scheme);
    assert.equal(r.code, 502, name);
    assert.equal(r.name, 'VALID_SIGNATURE');
    // A signature over another document is 503.
    const other = path.join(stack.dir, 'other.txt');
    writeFileSync(other, 'another text');
    const [bad] = verify(c, '--sig', `${c}.sig`, '--doc', other, '--scheme', scheme);
    assert.equal(bad.code, 503, name);
  }
});

test('pkcs1 output verifies with the certificate alone (openssl pkeyutl)', () => {
  const doc = path.join(stack.dir, 'doc-pkcs1.txt');
  writeFileSync(doc, 'pkcs1 document');
  const c = issue('pkcs1-rsa', 'rsa-2048');
  execFileSync(path.join(tools, 'kyso-cms-tool'),
               ['--pkcs1', `${c}.crt`, `${c}.key`, doc, `${c}.sig`]);
  const dgst = path.join(stack.dir, 'doc-pkcs1.sha256');
  openssl('dgst', '-sha256', '-binary', '-out', dgst, doc);
  const out = openssl('pkeyutl', '-verify', '-certin', '-inkey', `${c}.crt`, '-in', dgst,
                      '-sigfile', `${c}.sig`, '-pkeyopt', 'digest:sha256');
  assert.match(out, /Signature Verified Successfully/);
});

test('CMS built by the gateway code verifies with openssl cms -verify (ECDSA and RSA)', () => {
  const doc = path.join(stack.dir, 'doc-cms.txt');
  writeFileSync(doc, Buffer.from('%PDF-1.7 binary-ish \x00\x01\x02 content\r\n', 'latin1'));
  for (const [name, alg, hash] of [['cms-ec', 'ec-p256', 'sha256'],
                                   ['cms-rsa', 'rsa-2048', 'sha256'],
                                   ['cms-ec-384', 'ec-p256', 'sha384']]) {
    const c = issue(name, alg);
    execFileSync(path.join(tools, 'kyso-cms-tool'),
                 [`${c}.crt`, `${c}.key`, path.join(env.KYSO_PKI_DIR, 'chain.pem'), doc,
                  `${c}.cms`, hash]);
    const out = execFileSync('openssl',
      ['cms', '-verify', '-binary', '-inform', 'DER', '-in', `${c}.cms`, '-content', doc,
       '-CAfile', env.KYSO_TEST_ROOT_CA, '-out', '/dev/null'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.equal(out, '', name);
    // The signed attributes: content type, message digest, signing time, signingCertificateV2.
    const dump = openssl('cms', '-cmsout', '-print', '-inform', 'DER', '-in', `${c}.cms`);
    for (const attr of ['contentType', 'messageDigest', 'signingTime',
                        'id-smime-aa-signingCertificateV2'])
      assert.ok(dump.includes(attr), `${name}: ${attr}`);
    // Against another document the same CMS fails.
    const other = path.join(stack.dir, 'doc-other.txt');
    writeFileSync(other, 'changed');
    assert.throws(() => openssl('cms', '-verify', '-binary', '-inform', 'DER', '-in', `${c}.cms`,
                                '-content', other, '-CAfile', env.KYSO_TEST_ROOT_CA,
                                '-out', '/dev/null'));
  }
});

test('responder stopped: status unknown, 500 with a warning, never 502; back when restarted',
     () => {
  const doc = path.join(stack.dir, 'doc-down.txt');
  writeFileSync(doc, 'while the responder is down');
  const c = issue('down', 'ec-p256');
  execFileSync(path.join(tools, 'kyso-cms-tool'),
               ['--pkcs1', `${c}.crt`, `${c}.key`, doc, `${c}.sig`]);
  stack.stop('ocsp');
  try {
    const [pre] = verify(c);
    assert.equal(pre.revocation, 'unknown');
    assert.equal(pre.reason, 'STATUS_INDETERMINATE');
    assert.equal(pre.warning, true);
    assert.equal(pre.ocsp_cause, 'OCSP_UNREACHABLE');
    // Nothing serves the CRL distribution point in the stack: the fallback finds none.
    assert.equal(pre.cause, 'COULDNOT_DOWNLOAD_CRL');
    const [post] = verify(c, '--sig', `${c}.sig`, '--doc', doc, '--scheme', 'ecdsa');
    assert.equal(post.code, 500);
    assert.equal(post.revocation, 'unknown');
    assert.equal(post.warning, true);
    assert.notEqual(post.code, 502);
  } finally {
    stack.start('ocsp');
  }
  const [again] = verify(c, '--sig', `${c}.sig`, '--doc', doc, '--scheme', 'ecdsa');
  assert.equal(again.code, 502);
  assert.equal(again.revocation, 'good');
});

// The stack serves no CRL; here the test serves the PKI's CRL at the distribution point the
// certificates name, with the responder stopped, so only the CRL can answer.
test('responder stopped, CRL served: the CRL fallback gives good and revoked', async () => {
  const good = issue('crl-good', 'ec-p256');
  const bad = issue('crl-revoked', 'ec-p256', '--revoked');
  const crlUrl = new URL(readFileSync(path.join(env.KYSO_PKI_DIR, 'urls.env'), 'utf8')
    .match(/^CRL_URL='([^']+)'/m)[1]);
  const server = http.createServer((req, res) => {
    if (req.url !== crlUrl.pathname) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'Content-Type': 'application/pkix-crl' });
    res.end(readFileSync(path.join(env.KYSO_PKI_DIR, 'crl.der')));
  });
  await new Promise((resolve) => server.listen(Number(crlUrl.port), '127.0.0.1', resolve));
  stack.stop('ocsp');
  try {
    // Asynchronous: this process serves the CRL while the tool runs.
    const run = (c) => new Promise((resolve, reject) => {
      execFile(path.join(tools, 'kyso-verify-tool'),
        ['--anchor', env.KYSO_TEST_ROOT_CA, '--intermediate', env.KYSO_TEST_ISSUING_CA,
         '--timeout-ms', '2000', `${c}.crt`],
        { encoding: 'utf8', timeout: 30000 },
        (err, out) => (err ? reject(err) : resolve(JSON.parse(out.trim()))));
    });
    const g = await run(good);
    assert.equal(g.revocation, 'good');
    assert.equal(g.source, 'crl');
    assert.equal(g.ocsp_cause, 'OCSP_UNREACHABLE');
    assert.equal(g.reason, 'OK');
    const r = await run(bad);
    assert.equal(r.revocation, 'revoked');
    assert.equal(r.source, 'crl');
    assert.equal(r.code, 501);
  } finally {
    server.close();
    stack.start('ocsp');
  }
});

test('a certificate from another CA is refused with 425 (untrusted root)', () => {
  const otherDir = path.join(stack.dir, 'other-pki');
  execFileSync(env.KYSO_TEST_PKI, [otherDir]);
  const out = path.join(stack.dir, 'foreign');
  execFileSync(env.KYSO_TEST_PKI, ['issue', otherDir, '--cn', 'foreign', '--key-alg', 'ec-p256',
                                   '--out', out]);
  const [r] = verify(out);
  assert.equal(r.reason, 'UNTRUSTED_ROOT');
  assert.equal(r.code, 425);
  assert.equal(r.checked, false);
});
