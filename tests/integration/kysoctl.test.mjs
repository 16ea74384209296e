// Integration: kysoctl against the real PostgreSQL of a private stack (tls, pg, data): every
// command group with its JSON output, refusals with their REGULATION.md rule ids, idempotent
// imports (certificate files and the SIM provisioning file), routing with due dates from the
// loaded calendar, requests through their statuses, and the usage report (F3) with its total.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Stack, root } from './lib/stack.mjs';

const stack = new Stack({ name: 'kysoctl', args: ['--only', 'tls,pg,data'] });
let env;
let tmp;

test.before(() => {
  env = stack.up().env;
  tmp = mkdtempSync(path.join(tmpdir(), 'kyso-kysoctl-'));
});
test.after(() => {
  stack.down();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// Runs kysoctl on the stack: {status, out, err}.
function ctl(...args) {
  const quoted = args.map((a) => `'${String(a).replace(/'/g, `'\\''`)}'`).join(' ');
  const r = spawnSync('sh', ['-c', `${env.KYSO_KYSOCTL} ${quoted}`], { encoding: 'utf8',
                                                                       timeout: 60000 });
  return { status: r.status, out: r.stdout, err: r.stderr };
}
// kysoctl ... --json that must succeed: the parsed output.
function json(...args) {
  const r = ctl(...args, '--json');
  assert.equal(r.status, 0, `kysoctl ${args.join(' ')}: ${r.err}`);
  return JSON.parse(r.out);
}
// kysoctl that must be refused by a rule: exit 1 and the rule id and reason on stderr.
function refused(rule, reason, ...args) {
  const r = ctl(...args);
  assert.equal(r.status, 1, `expected a refusal of ${args.join(' ')}: ${r.out} ${r.err}`);
  assert.match(r.err, new RegExp(`refused: ${rule.replace('.', '\\.')} ${reason}`));
  return r;
}

// A P-256 certificate from a private test CA; days of validity from now.
let caReady = false;
function cert(name, cn, days, serial, der = false) {
  const ca = path.join(tmp, 'ca');
  const sh = (...a) => execFileSync('openssl', a, { stdio: ['ignore', 'pipe', 'pipe'] });
  if (!caReady) {
    sh('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
       '-keyout', `${ca}.key`, '-out', `${ca}.pem`, '-days', '3650', '-subj', '/CN=Test CA');
    caReady = true;
  }
  const f = path.join(tmp, name);
  sh('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout',
     `${f}.key`, '-out', `${f}.csr`, '-subj', `/CN=${cn}/O=UBND/C=VN`, '-utf8');
  sh('x509', '-req', '-in', `${f}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-out',
     `${f}.pem`, '-days', String(days), '-set_serial', serial);
  if (!der) return `${f}.pem`;
  sh('x509', '-in', `${f}.pem`, '-outform', 'DER', '-out', `${f}.der`);
  return `${f}.der`;
}

test('the demo directory: titles, delegation, the clerk and the seal', () => {
  const roles = json('role', 'list', '--current');
  const chair = roles.find((r) => r.person === env.KYSO_DEMO_SIGNER);
  assert.deepEqual(chair.doc_classes, ['*']);
  assert.equal(chair.current, true);
  assert.equal(roles.find((r) => r.person === env.KYSO_DEMO_CLERK).seal_clerk, true);
  const seals = json('seal', 'list', '--org', env.KYSO_DEMO_ORG);
  assert.equal(seals.length, 1);
  assert.equal(seals[0].clerk, env.KYSO_DEMO_CLERK);
  assert.equal(seals[0].active, true);
  assert.equal(String(seals[0].credential), env.KYSO_DEMO_SEAL_CREDENTIAL);
  const org = json('org', 'list').find((o) => o.slug === env.KYSO_DEMO_ORG);
  assert.equal(org.province, 'dong-nai');
  assert.equal(org.managing_agency, true);
  const ap = json('client', 'list').find((c) => c.id === 'demo-ap');
  assert.deepEqual(ap.orgs, [env.KYSO_DEMO_ORG]);
});

test('org, person and role: add, list, errors and exit codes', () => {
  assert.deepEqual(json('org', 'add', '--slug', 'so-y-te', '--name', 'Sở Y tế', '--province',
                        'dong-nai', '--parent', env.KYSO_DEMO_ORG), { slug: 'so-y-te' });
  assert.deepEqual(json('person', 'add', '--id', 'yt-giam-doc', '--org', 'so-y-te', '--name',
                        'Võ Văn Em', '--msisdn', '84912345678'), { id: 'yt-giam-doc' });
  const role = json('role', 'add', '--person', 'yt-giam-doc', '--org', 'so-y-te', '--title',
                    'Giám đốc', '--classes', 'quyet-dinh', '--classes', 'cong-van');
  assert.ok(role.id > 0);
  const people = json('person', 'list', '--org', 'so-y-te');
  assert.deepEqual(people.map((p) => [p.id, p.full_name, p.msisdn]),
                   [['yt-giam-doc', 'Võ Văn Em', '84912345678']]);
  const roles = json('role', 'list', '--person', 'yt-giam-doc');
  assert.deepEqual(roles[0].doc_classes, ['quyet-dinh', 'cong-van']);
  assert.equal(roles[0].title, 'Giám đốc');
  // A title that has not started yet is not current.
  json('role', 'add', '--person', 'yt-giam-doc', '--org', 'so-y-te', '--title', 'Chủ tịch',
       '--classes', '*', '--from', '2099-01-01');
  assert.equal(json('role', 'list', '--person', 'yt-giam-doc', '--current').length, 1);
  // Exit codes: 1 exists / not found, 2 usage.
  let r = ctl('person', 'add', '--id', 'yt-giam-doc', '--org', 'so-y-te', '--name', 'X');
  assert.equal(r.status, 1);
  assert.match(r.err, /already exists/);
  assert.equal(ctl('person', 'add', '--id', 'p2', '--org', 'no-such-org', '--name', 'X').status, 1);
  assert.equal(ctl('role', 'add', '--person', 'nobody', '--org', 'so-y-te', '--title', 'T',
                   '--classes', 'a').status, 1);
  assert.equal(ctl('person', 'add', '--id', 'p3').status, 2);
  assert.equal(ctl('person', 'add', '--id', 'p3', '--org', 'so-y-te', '--name', 'X',
                   '--colour', 'red').status, 2);
  assert.equal(ctl('role', 'add', '--person', 'yt-giam-doc', '--org', 'so-y-te', '--title', 'T',
                   '--classes', 'a', '--from', '2026-13-01').status, 2);
  assert.equal(ctl('no-such-command').status, 2);
});

test('delegation: grant, refusals by C9, revoke, list', () => {
  const kt = json('delegation', 'grant', '--grantor', env.KYSO_DEMO_SIGNER, '--grantee',
                  'dn-chuyen-vien', '--label', 'TL', '--classes', 'bao-cao');
  assert.equal(kt.decision, 'cosign');
  assert.deepEqual(kt.cosign, { role: 'COMPETENT_PERSON', rule: 'C9' });
  // C9: a TUQ. is written, limited in time and not re-delegable.
  refused('C9', 'NO_DELEGATION', 'delegation', 'grant', '--grantor', env.KYSO_DEMO_SIGNER,
          '--grantee', 'dn-chuyen-vien', '--label', 'TUQ.', '--classes', 'cong-van',
          '--until', '2099-01-01');
  refused('C9', 'DELEGATION_EXPIRED', 'delegation', 'grant', '--grantor', env.KYSO_DEMO_SIGNER,
          '--grantee', 'dn-chuyen-vien', '--label', 'TUQ.', '--classes', 'cong-van', '--basis',
          'Giấy ủy quyền 1');
  const tuq = json('delegation', 'grant', '--grantor', env.KYSO_DEMO_SIGNER, '--grantee',
                   'dn-chuyen-vien', '--label', 'TUQ.', '--classes', 'cong-van', '--until',
                   '2099-01-01', '--basis', 'Giấy ủy quyền 1');
  assert.equal(tuq.decision, 'cosign');
  refused('C9', 'REDELEGATION_FORBIDDEN', 'delegation', 'grant', '--grantor', 'dn-chuyen-vien',
          '--grantee', env.KYSO_DEMO_CLERK, '--label', 'TUQ.', '--classes', 'cong-van',
          '--until', '2099-01-01', '--basis', 'Giấy ủy quyền 2');
  const mine = json('delegation', 'list', '--person', 'dn-chuyen-vien', '--active');
  assert.deepEqual(mine.map((d) => d.label).sort(), ['TL.', 'TUQ.']);
  assert.deepEqual(json('delegation', 'revoke', String(kt.id)), { id: kt.id, revoked: true });
  assert.equal(ctl('delegation', 'revoke', String(kt.id)).status, 1);
  const after = json('delegation', 'list', '--person', 'dn-chuyen-vien');
  assert.equal(after.find((d) => d.id === kt.id).active, false);
  assert.ok(after.find((d) => d.id === kt.id).revoked_at);
  assert.equal(ctl('delegation', 'grant', '--grantor', 'a', '--grantee', 'b', '--label', 'XX',
                   '--classes', 'a').status, 2);
});

test('credential import from certificate files: PEM, DER, idempotent, list, lock, revoke', () => {
  const pem = cert('chair', 'Nguyễn Văn An', 730, '0x1A2B3C');
  const first = json('credential', 'import', '--cert', pem, '--org', env.KYSO_DEMO_ORG,
                     '--person', env.KYSO_DEMO_SIGNER);
  assert.equal(first.created, true);
  assert.equal(first.serial, '1A2B3C');
  assert.match(first.subject, /CN=Nguyễn Văn An/);
  const again = json('credential', 'import', '--cert', pem, '--org', env.KYSO_DEMO_ORG,
                     '--person', env.KYSO_DEMO_SIGNER);
  assert.deepEqual({ ...again }, { ...first, created: false });
  const der = cert('vice', 'Trần Thị Bình', 700, '0x77', true);
  const d = json('credential', 'import', '--cert', der, '--org', env.KYSO_DEMO_ORG,
                 '--person', env.KYSO_TOKEN_SIGNER, '--token-serial', 'TK-0001');
  const list = json('credential', 'list', '--org', env.KYSO_DEMO_ORG);
  const row = list.find((c) => c.id === d.id);
  assert.equal(row.type, 'personal');
  assert.equal(row.device, 'token');
  assert.equal(row.token_serial, 'TK-0001');
  assert.equal(row.key_alg, 'ec-p256');
  assert.equal(row.display_name, 'Trần Thị Bình');
  assert.equal(row.state, 'active');
  assert.equal(row.has_cert, true);
  assert.equal(row.cert_der, undefined); // listings never carry certificate bytes or keys
  assert.equal(Number(stack.sql(`select count(*) from credential where serial_hex = '1A2B3C'`)), 1);
  const bad = path.join(tmp, 'not-a-cert.pem');
  writeFileSync(bad, 'hello\n');
  assert.equal(ctl('credential', 'import', '--cert', bad, '--org', env.KYSO_DEMO_ORG).status, 1);
  // B14: lock once; revoke from any state but revoked.
  assert.deepEqual(json('credential', 'lock', String(d.id)), { id: d.id, state: 'locked' });
  assert.equal(ctl('credential', 'lock', String(d.id)).status, 1);
  assert.deepEqual(json('credential', 'revoke', String(d.id)), { id: d.id, state: 'revoked' });
  assert.equal(ctl('credential', 'revoke', String(d.id)).status, 1);
  // C1: only an organisation credential is a seal.
  const r = ctl('seal', 'assign', '--credential', String(first.id), '--clerk',
                env.KYSO_DEMO_CLERK, '--decision', 'QĐ 2');
  assert.equal(r.status, 1);
});

function provLine(msisdn, iccid, certFile, counter, extra = {}) {
  const der = execFileSync('openssl', ['x509', '-in', certFile, '-outform', 'DER']);
  return JSON.stringify({
    msisdn, iccid, carrier: 'sim', key_alg: 'ec-p256', cert: der.toString('base64'),
    keysets: [{ kvn: 3, kic_alg: '3des-2key', kic: '000102030405060708090a0b0c0d0e0f',
                kid_alg: '3des-2key', kid: '101112131415161718191a1b1c1d1e1f',
                tar: '4B5953', counter }],
    ...extra,
  });
}

test('credential import --provision: SIM cards, keysets, credentials; idempotent', () => {
  const c0 = cert('sim0', '84900000000', 700, '0x100');
  const c9 = cert('sim9', '84900000009', 700, '0x109');
  const file = path.join(tmp, 'provision.jsonl');
  writeFileSync(file, `${provLine('84900000000', '89840000000000000000', c0, 5)}\n` +
                      `${provLine('84900000009', '89840000000000000009', c9, 0)}\n` +
                      '{"msisdn":"84-9"}\n');
  const r = ctl('credential', 'import', '--provision', file, '--org', env.KYSO_DEMO_ORG,
                '--create-officials', 'Chuyên viên', '--classes', 'bao-cao', '--json');
  assert.equal(r.status, 1); // one bad line
  const out = JSON.parse(r.out);
  assert.deepEqual(out, { lines: 3, imported: 2, credentials_new: 2, cards_new: 2,
                          officials_new: 1, errors: [{ line: 3, error: 'msisdn: 6 to 15 digits' }] });
  // 84900000000 belongs to the demo signer; 84900000009 got its own official.
  assert.equal(stack.sql(`select person from credential where msisdn = '84900000000'`),
               env.KYSO_DEMO_SIGNER);
  assert.equal(stack.sql(`select person from credential where msisdn = '84900000009'`),
               'sim-84900000009');
  assert.equal(stack.sql(`select title from role_assignment where person = 'sim-84900000009'`),
               'Chuyên viên');
  assert.equal(stack.sql(`select tar || ' ' || (credential is not null) from sim_card
                          where iccid = '89840000000000000000'`), '4b5953 true');
  // Again, with a lower counter in the file: nothing new, the counter never moves back.
  writeFileSync(file, `${provLine('84900000000', '89840000000000000000', c0, 2)}\n` +
                      `${provLine('84900000009', '89840000000000000009', c9, 8)}\n`);
  const again = json('credential', 'import', '--provision', file, '--org', env.KYSO_DEMO_ORG,
                     '--create-officials', 'Chuyên viên', '--classes', 'bao-cao');
  assert.deepEqual(again, { lines: 2, imported: 2, credentials_new: 0, cards_new: 0,
                            officials_new: 0, errors: [] });
  assert.equal(stack.sql(`select string_agg(iccid || ':' || counter, ',' order by iccid)
                          from sim_keyset`),
               '89840000000000000000:5,89840000000000000009:8');
  assert.equal(Number(stack.sql(`select count(*) from sim_card`)), 2);
  assert.equal(Number(stack.sql(`select count(*) from credential where device = 'sim'`)), 2);
  assert.equal(Number(stack.sql(`select count(*) from person where id like 'sim-%'`)), 1);
});

test('policy load: profiles and holidays in rows, secrets left out', () => {
  const file = path.join(tmp, 'policy.json');
  const pol = JSON.parse(readFileSync(path.join(root, 'deploy', 'policy.example.json'), 'utf8'));
  pol.policy.provinces['dong-nai'].connector = { url: 'https://so.example/recovery',
                                                 secret: 'very-secret-0123456789' };
  writeFileSync(file, JSON.stringify(pol));
  const r = json('policy', 'load', file);
  assert.equal(r.profiles, 6); // central + default, dong-nai, hai-phong, ninh-binh, quang-nam
  assert.equal(r.days, 22);
  assert.equal(stack.sql(`select truc_code || ' ' || array_to_string(dost_authorised_for, ',')
                          || ' ' || has_connector from province_profile where slug = 'dong-nai'`),
               'H19.5 renew,change,recover_token true');
  assert.equal(stack.sql(`select truc_code || ' ' || channel from province_profile
                          where slug = 'central'`), 'G11.07.05 portal');
  assert.equal(stack.sql(`select kind from holiday where day = '2026-04-27'`), 'day_off');
  assert.equal(stack.sql(`select count(*) from policy_source where text like '%very-secret%'`), '0');
  const bad = path.join(tmp, 'bad-policy.json');
  writeFileSync(bad, '{"policy": {"provinces": {"dong-nai": {"truc_code": 5}}}}');
  const e = ctl('policy', 'load', bad);
  assert.equal(e.status, 1);
  assert.match(e.err, /provinces\.dong-nai\.truc_code/);
  json('policy', 'load', path.join(root, 'deploy', 'policy.example.json'));
});

test('route: destination, form, channel and due date over the loaded holidays', () => {
  // Received Wednesday 29/4/2026; 30/4 and 1/5 are holidays, 2-3/5 a weekend.
  const tok = json('route', '--request', 'recover', '--device', 'token', '--province',
                   'dong-nai', '--received', '2026-04-29T10:00');
  assert.equal(tok.destination, 'dong-nai'); // B15: the Sở is authorised for token recovery
  assert.equal(tok.form, 'Mẫu 06');
  assert.equal(tok.channel, 'truc');
  assert.equal(tok.truc_code, 'H19.5');
  assert.equal(tok.sla_working_days, 1);
  assert.equal(tok.due_date, '2026-05-04');
  assert.equal(tok.policy_loaded, true);
  const sim = json('route', '--request', 'recover', '--device', 'sim', '--province', 'dong-nai',
                   '--received', '2026-04-29T10:00');
  assert.equal(sim.destination, 'central'); // B15: SIM recovery goes to the Cục
  assert.equal(sim.truc_code, 'G11.07.05');
  assert.equal(sim.due_date, '2026-05-06');
  // After office hours the count starts the next working day.
  assert.equal(json('route', '--request', 'recover', '--device', 'token', '--province',
                    'dong-nai', '--received', '2026-04-29T17:30').due_date, '2026-05-05');
  assert.equal(json('route', '--request', 'recover', '--device', 'token', '--province',
                    'default').destination, 'central');
  const renew = json('route', '--request', 'renew', '--device', 'token', '--province',
                     'dong-nai');
  assert.equal(renew.form, 'Mẫu 04');
  assert.equal(renew.due_date, null); // renew_change SLA is null: tracked without a due date
  const human = ctl('route', '--request', 'recover', '--device', 'token', '--province',
                    'dong-nai', '--received', '2026-04-29T10:00');
  assert.match(human.out, /-> dong-nai .*Mẫu 06, channel truc H19\.5, SLA 1 working days, due 2026-05-04/);
  let r = ctl('route', '--request', 'issue', '--cred-type', 'org', '--device', 'sim',
              '--province', 'dong-nai');
  assert.equal(r.status, 1);
  assert.match(r.err, /no route/);
  assert.equal(ctl('route', '--request', 'recover', '--device', 'token', '--province',
                   'atlantis').status, 1);
  assert.equal(ctl('route', '--request', 'fly', '--device', 'token', '--province',
                   'dong-nai').status, 2);
});

test('request: refused by the lifecycle rules with their ids, filed, advanced', () => {
  const long = cert('long', 'Lê Văn Cường', 700, '0x200');
  const short = cert('short', 'Lê Văn Cường', 20, '0x201');
  const L = json('credential', 'import', '--cert', long, '--org', env.KYSO_DEMO_ORG,
                 '--person', 'dn-chuyen-vien').id;
  const S = json('credential', 'import', '--cert', short, '--org', env.KYSO_DEMO_ORG,
                 '--person', 'dn-chuyen-vien').id;
  const before = Number(stack.sql('select count(*) from cert_request'));
  refused('B4', 'TOO_LATE_TO_RENEW', 'request', 'create', '--type', 'renew', '--credential',
          String(S), '--new-not-after', '2028-12-01', '--signed', 'CV 1');
  refused('B2', 'RENEWAL_TOO_LONG', 'request', 'create', '--type', 'renew', '--credential',
          String(L), '--new-not-after', '2040-01-01', '--signed', 'CV 1');
  refused('B19', 'REQUEST_NOT_SIGNED', 'request', 'create', '--type', 'renew', '--credential',
          String(L), '--new-not-after', '2030-01-01');
  refused('B14', 'CREDENTIAL_NOT_LOCKED', 'request', 'create', '--type', 'recover',
          '--credential', String(L), '--signed', 'CV 1');
  refused('B13', 'LOSS_MINUTES_MISSING', 'request', 'create', '--type', 'lost', '--credential',
          String(L), '--signed', 'CV 1');
  refused('A7', 'OFFICIAL_EMAIL_REQUIRED', 'request', 'create', '--type', 'issue', '--org',
          env.KYSO_DEMO_ORG, '--person', 'dn-chuyen-vien', '--cred-type', 'personal',
          '--device', 'token', '--not-after', '2030-01-01', '--email', 'c@gmail.com',
          '--signed', 'CV 1');
  refused('A8', 'NOT_MANAGING_AGENCY', 'request', 'create', '--type', 'renew', '--credential',
          String(L), '--new-not-after', '2030-01-01', '--signed', 'CV 1', '--filer', 'so-y-te');
  assert.equal(Number(stack.sql('select count(*) from cert_request')), before); // nothing stored

  const renew = json('request', 'create', '--type', 'renew', '--credential', String(L),
                     '--new-not-after', '2030-01-01', '--signed', 'CV 2/UBND');
  assert.equal(renew.status, 'filed');
  assert.equal(renew.destination, 'dong-nai'); // B18: renewal authorised in dong-nai
  assert.equal(renew.form, 'Mẫu 04');
  assert.equal(renew.decision.decision, 'allow');
  const issue = json('request', 'create', '--type', 'issue', '--org', 'so-y-te', '--person',
                     'yt-giam-doc', '--cred-type', 'personal', '--device', 'sim', '--filer',
                     env.KYSO_DEMO_ORG, '--not-after', '2030-01-01', '--email',
                     'em@dongnai.gov.vn', '--draft');
  assert.equal(issue.status, 'draft');
  assert.deepEqual(issue.decision.cosign, { role: 'CLERK', rule: 'B19' });
  assert.equal(issue.destination, 'central');
  assert.equal(issue.needs_operator, true);
  assert.match(issue.due_date, /^\d{4}-\d{2}-\d{2}$/);

  refused('B19', 'REQUEST_NOT_SIGNED', 'request', 'advance', String(issue.id), '--to', 'filed');
  assert.deepEqual(json('request', 'advance', String(issue.id), '--to', 'filed', '--signed',
                        'CV 3/UBND'), { id: issue.id, status: 'filed' });
  refused('B16', 'REASON_REQUIRED', 'request', 'advance', String(issue.id), '--to', 'rejected');
  json('request', 'advance', String(issue.id), '--to', 'rejected', '--reason', 'Thiếu hồ sơ');
  const shown = json('request', 'show', String(issue.id));
  assert.deepEqual(shown.history.map((h) => h.status), ['draft', 'filed', 'rejected']);
  assert.equal(shown.history[2].note, 'Thiếu hồ sơ');
  assert.equal(ctl('request', 'advance', String(issue.id), '--to', 'done').status, 1);

  json('request', 'advance', String(renew.id), '--to', 'accepted');
  json('request', 'advance', String(renew.id), '--to', 'done');
  const c = json('credential', 'list').find((x) => x.id === L);
  assert.equal(c.renewal_count, 1);
  assert.match(c.not_after, /^2030-01-01T00:00:00/);
  // B3: renewed once already.
  refused('B3', 'RENEWAL_LIMIT_REACHED', 'request', 'create', '--type', 'renew', '--credential',
          String(L), '--new-not-after', '2031-01-01', '--signed', 'CV 4');
  // B14: a locked credential is recovered; done unlocks it.
  json('credential', 'lock', String(L));
  const rec = json('request', 'create', '--type', 'recover', '--credential', String(L),
                   '--signed', 'CV 5');
  assert.equal(rec.destination, 'dong-nai');
  json('request', 'advance', String(rec.id), '--to', 'done');
  assert.equal(json('credential', 'list').find((x) => x.id === L).state, 'active');
  const open = json('request', 'list', '--status', 'filed');
  assert.ok(open.every((x) => x.status === 'filed'));
  assert.equal(ctl('request', 'show', '999999').status, 1);
});

test('report usage: the F3 table in CSV and HTML with its total row', () => {
  const csv = ctl('report', 'usage', '--org', env.KYSO_DEMO_ORG, '--period', '2026',
                  '--format', 'csv');
  assert.equal(csv.status, 0, csv.err);
  const lines = csv.out.trimEnd().split('\r\n');
  assert.equal(lines[0], 'TT,Tên chứng thư số,"Cơ quan, tổ chức",Số hiệu,' +
                         'Thiết bị lưu khóa bí mật,Ghi chú');
  const expected = Number(stack.sql(`select count(*) from credential c join org o on
    o.slug = c.org where (o.slug = '${env.KYSO_DEMO_ORG}' or o.parent = '${env.KYSO_DEMO_ORG}')
    and c.not_before is not null`));
  assert.ok(expected >= 5);
  assert.equal(lines.length, expected + 2);
  assert.equal(lines[lines.length - 1], `Cộng,${expected},,,,`);
  assert.ok(lines.some((l) => /^\d+,Nguyễn Văn An,UBND tỉnh Đồng Nai,1A2B3C,PKI Token,$/.test(l)));
  assert.ok(lines.some((l) => /,84900000009,UBND tỉnh Đồng Nai,0109,SIM PKI,/.test(l)));
  assert.ok(lines.some((l) => /Trần Thị Bình,.*,77,PKI Token,Đã thu hồi/.test(l)));
  const html = ctl('report', 'usage', '--org', env.KYSO_DEMO_ORG, '--period', '2026H2',
                   '--format', 'html');
  assert.equal(html.status, 0, html.err);
  assert.match(html.out, /<h1>BÁO CÁO TÌNH HÌNH SỬ DỤNG CHỮ KÝ SỐ CHUYÊN DÙNG<\/h1>/);
  assert.match(html.out, /Kính gửi: Sở Khoa học và Công nghệ tỉnh Đồng Nai/);
  assert.match(html.out, /Kỳ báo cáo: từ 01\/07\/2026 đến 31\/12\/2026/);
  assert.match(html.out, new RegExp(`<td>Cộng</td><td colspan="5">${expected}</td>`));
  const rows = json('report', 'usage', '--org', env.KYSO_DEMO_ORG, '--period', '2026');
  assert.equal(rows.rows.length, expected);
  assert.equal(rows.province_name, 'Sở Khoa học và Công nghệ tỉnh Đồng Nai');
  assert.deepEqual([rows.from, rows.to], ['2026-01-01', '2026-12-31']);
  // A period before any certificate existed has no rows, only the total.
  const empty = ctl('report', 'usage', '--org', env.KYSO_DEMO_ORG, '--period',
                    '2001-01-01..2001-12-31', '--format', 'csv');
  assert.equal(empty.out.trimEnd().split('\r\n')[1], 'Cộng,0,,,,');
  assert.equal(ctl('report', 'usage', '--org', 'nope', '--period', '2026', '--format',
                   'csv').status, 1);
  assert.equal(ctl('report', 'usage', '--org', env.KYSO_DEMO_ORG, '--period', '2026H3',
                   '--format', 'csv').status, 2);
  assert.equal(ctl('report', 'usage', '--org', env.KYSO_DEMO_ORG, '--period', '2026',
                   '--format', 'pdf').status, 2);
});

test('seal hand-over (C3) and the database exit code', () => {
  const asg = json('seal', 'list', '--org', env.KYSO_DEMO_ORG)[0].id;
  refused('C3', 'SEAL_HANDOVER_INVALID', 'seal', 'handover', '--assignment', String(asg),
          '--holder', 'dn-chuyen-vien', '--permission', 'GP 1', '--from', '2026-01-01',
          '--until', '2099-01-01');
  const h = json('seal', 'handover', '--assignment', String(asg), '--holder', 'dn-chuyen-vien',
                 '--permission', 'GP 1', '--minutes', 'BB 1', '--from', '2026-01-01',
                 '--until', '2099-01-01');
  assert.deepEqual(h.cosign, { role: 'COMPETENT_PERSON', rule: 'C3' });
  const s = json('seal', 'list', '--org', env.KYSO_DEMO_ORG)[0];
  assert.deepEqual(s.handovers.map((x) => [x.holder, x.minutes_ref, x.current]),
                   [['dn-chuyen-vien', 'BB 1', true]]);
  assert.equal(ctl('seal', 'handover', '--assignment', '999999', '--holder', 'dn-chuyen-vien',
                   '--permission', 'GP', '--minutes', 'BB', '--from', '2026-01-01', '--until',
                   '2099-01-01').status, 1);
  // No database: exit 3.
  const bin = path.join(process.env.KYSO_BUILD_DIR, 'gateway', 'kysoctl');
  const r = spawnSync(bin, ['--db', `postgresql:///kyso?host=${tmp}&port=1`, 'org', 'list'],
                      { encoding: 'utf8' });
  assert.equal(r.status, 3);
});
