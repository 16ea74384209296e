// Helpers for the agent tests: test keys and certificates made with the openssl CLI, the real
// kyso-pcsc-agent as a child process, and a scripted gateway peer (an independent ws server
// that speaks /v1/agent) that queues the agent's frames so tests await them in order.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WebSocketServer } from 'ws';
import { root } from './stack.mjs';

export function agentBin() {
  const build = process.env.KYSO_BUILD_DIR || path.join(root, 'build', 'stack');
  return path.join(build, 'pcsc', 'agent', 'kyso-pcsc-agent');
}

// A private folder with an RSA-2048 and a P-256 key, their self-signed certificates, and PIN
// files (0600) for the soft token.
export class AgentFiles {
  constructor() {
    this.dir = mkdtempSync(path.join(tmpdir(), 'kyso-agent-'));
    for (const [name, args] of [['rsa', ['-newkey', 'rsa:2048']],
                                ['ec', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']]]) {
      execFileSync('openssl', ['req', '-x509', ...args, '-nodes', '-days', '30',
                               '-subj', `/CN=Test ${name}/O=UBND Dong Nai`,
                               '-keyout', this.file(`${name}.key`),
                               '-out', this.file(`${name}.pem`)], { stdio: 'ignore' });
    }
  }
  file(name) { return path.join(this.dir, name); }
  pinFile(name, pin, mode = 0o600) {
    const f = this.file(name);
    writeFileSync(f, `${pin}\n`);
    chmodSync(f, mode);
    return f;
  }
  certDer(name) {
    const pem = readFileSync(this.file(`${name}.pem`), 'utf8');
    return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  }
  keyId(name) { return createHash('sha256').update(this.certDer(name)).digest('hex'); }
  soft(name, extra = '') {
    return `key=${this.file(`${name}.key`)},cert=${this.file(`${name}.pem`)}${extra}`;
  }
  remove() { rmSync(this.dir, { recursive: true, force: true }); }
}

// kyso-pcsc-agent with its stderr collected; exit resolves {code, signal}.
export class Agent {
  constructor(args, env = {}) {
    this.log = '';
    this.proc = spawn(agentBin(), args, { stdio: ['ignore', 'ignore', 'pipe'],
                                          env: { ...process.env, ...env } });
    this.proc.stderr.setEncoding('utf8');
    this.proc.stderr.on('data', (d) => { this.log += d; });
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => resolve({ code, signal }));
    });
  }
  kill(signal = 'SIGTERM') { this.proc.kill(signal); return this.exited; }
}

// A scripted gateway: accepts kyso.agent.v1 on /v1/agent, checks the key, queues frames.
export class GatewayPeer {
  constructor(key) {
    this.key = key;
    this.conns = [];
    this.frames = [];
    this.waiters = [];
    this.auth = [];
    this.wss = new WebSocketServer({
      host: '127.0.0.1', port: 0, path: '/v1/agent',
      handleProtocols: (protocols) => (protocols.has('kyso.agent.v1') ? 'kyso.agent.v1' : false),
      verifyClient: (info) => {
        this.auth.push(info.req.headers.authorization);
        return info.req.headers.authorization === `Bearer ${this.key}`;
      },
    });
    this.wss.on('connection', (ws) => {
      this.conns.push(ws);
      this.ws = ws;
      ws.on('message', (data) => this.push(JSON.parse(data.toString())));
    });
    this.listening = new Promise((resolve) => this.wss.on('listening', resolve));
  }
  url() { return `ws://127.0.0.1:${this.wss.address().port}/v1/agent`; }
  push(f) {
    const i = this.waiters.findIndex((w) => w.match(f));
    if (i >= 0) this.waiters.splice(i, 1)[0].resolve(f); else this.frames.push(f);
  }
  // The next frame matching type (and pred), waiting up to timeoutMs.
  next(type, pred = () => true, timeoutMs = 10000) {
    const match = (f) => f.type === type && pred(f);
    const i = this.frames.findIndex(match);
    if (i >= 0) return Promise.resolve(this.frames.splice(i, 1)[0]);
    return new Promise((resolve, reject) => {
      const w = { match, resolve };
      const t = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`no ${type} frame within ${timeoutMs} ms`));
      }, timeoutMs);
      w.resolve = (f) => { clearTimeout(t); resolve(f); };
      this.waiters.push(w);
    });
  }
  send(obj) { this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj)); }
  close() {
    for (const c of this.conns) c.terminate();
    return new Promise((resolve) => this.wss.close(resolve));
  }
}
