// kyso-card-probe inside the stack's pcscd mount namespace (PCSC.md §1): the card engine on
// real pcscd + vpcd + kyso-vcard, driven by stdin commands, its events read as JSON lines.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';

export class CardProbe {
  constructor(env) {
    this.events = [];
    this.stderr = '';
    this.proc = spawn('nsenter', ['--target', env.KYSO_PCSC_NS_PID, '--mount', '--root',
                                  env.KYSO_CARD_PROBE], { stdio: ['pipe', 'pipe', 'pipe'] });
    let buf = '';
    this.proc.stdout.setEncoding('utf8');
    this.proc.stdout.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try { this.events.push(JSON.parse(line)); } catch { this.stderr += `bad line: ${line}\n`; }
      }
    });
    this.proc.stderr.setEncoding('utf8');
    this.proc.stderr.on('data', (d) => { this.stderr += d; });
    this.exited = new Promise((resolve) => this.proc.on('exit', resolve));
    this.nextId = 1;
    // Commands are space-separated words, reader names hold spaces: the probe takes slotN
    // (N-th reader in name order) instead.
    this.alias = { [env.KYSO_VCARD1_READER]: 'slot0', [env.KYSO_VCARD2_READER]: 'slot1' };
  }
  line(id, verb, rest) {
    return [verb, id, ...rest.map((w) => this.alias[w] || w)].join(' ');
  }
  send(line) { this.proc.stdin.write(`${line}\n`); }
  find(pred, from = 0) { return this.events.slice(from).find(pred); }
  // Waits for an event matching pred among those after index `from`.
  async wait(what, pred, from = 0, timeoutMs = 20000) {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const ev = this.find(pred, from);
      if (ev) return ev;
      if (Date.now() > end) {
        throw new Error(`timed out waiting for ${what}; events: ` +
          JSON.stringify(this.events.slice(from).map((e) => ({ ...e, cert: undefined }))) +
          ` stderr: ${this.stderr}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  mark() { return this.events.length; }
  // Waits until the token in `reader` has been probed after index `from`.
  present(reader, from = 0, timeoutMs = 20000) {
    return this.wait(`token in ${reader}`,
      (e) => e.ev === 'token_present' && e.reader === reader, from, timeoutMs);
  }
  // Submits a job line (without its id) and resolves with its `done` event.
  async job(verbAndArgs, timeoutMs = 20000) {
    const id = this.nextId++;
    const [verb, ...rest] = verbAndArgs;
    const from = this.mark();
    this.send(this.line(id, verb, rest));
    const ev = await this.wait(`job ${id} (${verb})`,
      (e) => (e.ev === 'done' || e.ev === 'rejected') && e.job === id, from, timeoutMs);
    ev.events = this.events.slice(from).filter((e) => e.job === id).map((e) => e.ev);
    return ev;
  }
  submit(verbAndArgs) {
    const id = this.nextId++;
    const [verb, ...rest] = verbAndArgs;
    this.send(this.line(id, verb, rest));
    return id;
  }
  async quit() {
    this.send('quit');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 10000);
    const code = await this.exited;
    clearTimeout(t);
    return code;
  }
}

export const sha = (alg, data) => createHash(alg).update(data).digest();
export const randomDoc = () => randomBytes(200);

// Verifies `sigHex` over `doc` with the certificate's public key, using the openssl CLI.
export function opensslVerify(certFile, digest, doc, sigHex) {
  const dir = mkdtempSync(path.join(tmpdir(), 'kyso-sig-'));
  try {
    const pub = path.join(dir, 'pub.pem');
    writeFileSync(pub, execFileSync('openssl', ['x509', '-pubkey', '-noout', '-in', certFile]));
    writeFileSync(path.join(dir, 'doc'), doc);
    writeFileSync(path.join(dir, 'sig'), Buffer.from(sigHex, 'hex'));
    const out = execFileSync('openssl', ['dgst', `-${digest}`, '-verify', pub, '-signature',
                                         path.join(dir, 'sig'), path.join(dir, 'doc')],
                             { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return out.trim() === 'Verified OK';
  } catch (e) {
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function certDerHex(certFile) {
  return execFileSync('openssl', ['x509', '-outform', 'DER', '-in', certFile]).toString('hex');
}

export { readFileSync };
