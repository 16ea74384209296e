// Helpers shared by the integration tests: a private stack per test file (deploy/stack),
// WebSocket clients, psql and MQTT probes, and condition waits (never bare sleeps).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import https from 'node:https';
import WebSocket from 'ws';

const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, '..', '..', '..');
const stackCmd = path.join(root, 'deploy', 'stack');

function parseEnv(text) {
  const env = {};
  for (const line of text.split('\n')) {
    const m = line.match(/^(?:export\s+)?([A-Z0-9_]+)=(.*)$/);
    if (!m) continue;
    let v = m[2].trim();
    if ((v.startsWith("'") && v.endsWith("'")) || (v.startsWith('"') && v.endsWith('"')))
      v = v.slice(1, -1);
    env[m[1]] = v.replace(/'\\''/g, "'");
  }
  return env;
}

// One command to the carrier simulator's control socket (docs/carrier-sim.md); its answer, which
// must say ok.
export function simCtl(env, obj) {
  const out = execFileSync('sh', ['-c', `${env.KYSO_SIM_CTL} '${JSON.stringify(obj)}'`],
                           { encoding: 'utf8', timeout: 30000 });
  const r = JSON.parse(out.trim().split('\n').pop());
  if (r.ok !== true) throw new Error(`simulator control ${obj.cmd}: ${out}`);
  return r;
}

export class Stack {
  constructor(opts = {}) {
    this.dir = mkdtempSync(path.join(tmpdir(), `kyso-it-${opts.name || 'stack'}-`));
    this.args = opts.args || [];
    // Variables for deploy/stack on top of this process's (e.g. KYSO_SIM_TIME_SCALE).
    this.vars = opts.env || {};
  }
  run(...args) {
    return execFileSync(stackCmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
                                          timeout: 300000, env: { ...process.env, ...this.vars } });
  }
  up() {
    try {
      this.run('up', '--dir', this.dir, ...this.args);
    } catch (e) {
      throw new Error(`deploy/stack up failed:\n${e.stdout}\n${e.stderr}`);
    }
    this.env = parseEnv(readFileSync(path.join(this.dir, 'stack.env'), 'utf8'));
    return this;
  }
  down() {
    try { this.run('down', '--dir', this.dir); } catch (e) { /* reported by the test */ }
    if (!process.env.KYSO_KEEP_STACK) rmSync(this.dir, { recursive: true, force: true });
  }
  stop(component) { this.run('stop-component', '--dir', this.dir, component); }
  start(component) { this.run('start-component', '--dir', this.dir, component); }
  gatewayLog() {
    try { return readFileSync(this.env.KYSO_GATEWAY_LOG, 'utf8'); } catch { return ''; }
  }
  // psql against the stack's database; returns the trimmed, unaligned output.
  sql(query) {
    return execFileSync('psql', ['-X', '-At', '-v', 'ON_ERROR_STOP=1', this.env.KYSO_PG_URL,
                                 '-c', query],
                        { encoding: 'utf8', timeout: 60000 }).trim();
  }
  kysoctl(...args) {
    // KYSO_KYSOCTL is a shell command line: run it through sh with our arguments appended.
    const quoted = args.map((a) => `'${String(a).replace(/'/g, `'\\''`)}'`).join(' ');
    return execFileSync('sh', ['-c', `${this.env.KYSO_KYSOCTL} ${quoted}`],
                        { encoding: 'utf8', timeout: 60000 });
  }
  kysoctlStatus(...args) {
    try { this.kysoctl(...args); return 0; } catch (e) { return e.status; }
  }
}

export async function waitFor(what, cond, timeoutMs = 20000, stepMs = 50) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try {
      last = await cond();
      if (last) return last;
    } catch (e) { last = e; }
    await new Promise((r) => setTimeout(r, stepMs));
  }
  throw new Error(`timed out waiting for ${what} (last: ${last})`);
}

// An HTTPS GET against the gateway, verified with the stack's CA. Resolves {status, body}.
export function httpGet(env, urlPath, headers = {}) {
  const url = new URL(urlPath, env.KYSO_HTTP_URL);
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca: readFileSync(env.KYSO_CA_FILE), headers, timeout: 10000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => { body += d; });
        res.on('end', () => resolve({ status: res.statusCode, body, headers: res.headers }));
      });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

export function metricValue(text, name) {
  const m = text.match(new RegExp(`^${name} (\\S+)$`, 'm'));
  return m ? Number(m[1]) : undefined;
}

// A WebSocket client that queues incoming JSON frames so tests can await them in order.
export class Client {
  constructor(env, opts = {}) {
    this.env = env;
    this.frames = [];
    this.waiters = [];
    const headers = {};
    const key = opts.key === undefined ? env.KYSO_AP_KEY : opts.key;
    if (key !== null) headers.Authorization = `Bearer ${key}`;
    this.ws = new WebSocket(env.KYSO_WS_URL, opts.protocol === undefined ? 'kyso.v1' : opts.protocol,
                            { ca: readFileSync(env.KYSO_CA_FILE), headers,
                              maxPayload: 8 << 20, handshakeTimeout: 10000 });
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
    this.ws.on('message', (data, isBinary) => {
      const f = isBinary ? { binary: true } : JSON.parse(data.toString());
      const w = this.waiters.shift();
      if (w) w(f); else this.frames.push(f);
    });
  }
  open() {
    return new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve(this));
      this.ws.once('unexpected-response', (req, res) => {
        let body = '';
        res.on('data', (d) => { body += d; });
        res.on('end', () => {
          const e = new Error(`HTTP ${res.statusCode}`);
          e.status = res.statusCode;
          e.body = body;
          reject(e);
        });
      });
      this.ws.once('error', reject);
    });
  }
  send(obj) { this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj)); }
  next(timeoutMs = 10000) {
    if (this.frames.length) return Promise.resolve(this.frames.shift());
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no frame within timeout')), timeoutMs);
      this.waiters.push((f) => { clearTimeout(t); resolve(f); });
    });
  }
  async request(obj, timeoutMs) {
    this.send(obj);
    return this.next(timeoutMs);
  }
  close() { this.ws.close(1000); return this.closed; }
}

export async function connect(env, opts) {
  return new Client(env, opts).open();
}

// Collects MQTT messages with mosquitto_sub (a real, independent client).
export class MqttProbe {
  // opts.persistent: a client id for a session the broker keeps (clean session off), so that
  // QoS 1 messages published while the probe is away are delivered when it reconnects.
  constructor(env, topic, opts = {}) {
    this.lines = [];
    this.stderr = '';
    const args = ['-h', env.KYSO_MQTT_HOST, '-p', env.KYSO_MQTT_PORT, '-q', '1', '-v',
                  '-t', topic, '-d'];
    if (opts.persistent) args.push('-c', '-i', opts.persistent);
    // stdbuf: mosquitto_sub buffers its output when it writes to a pipe.
    this.proc = spawn('stdbuf', ['-oL', 'mosquitto_sub', ...args],
                      { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stderr.setEncoding('utf8');
    this.proc.stderr.on('data', (d) => { this.stderr += d; });
    let buf = '';
    this.proc.stdout.setEncoding('utf8');
    this.proc.stdout.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.startsWith('Client ')) { this.stderr += line + '\n'; continue; } // -d output
        const sp = line.indexOf(' ');
        this.lines.push({ topic: line.slice(0, sp), payload: line.slice(sp + 1) });
      }
    });
  }
  // True once the broker acknowledged the subscription (-d prints SUBACK).
  ready() { return /SUBACK/.test(this.stderr); }
  messages(filter = () => true) {
    return this.lines.filter(filter).map((l) => {
      try { return { topic: l.topic, msg: JSON.parse(l.payload) }; }
      catch { return { topic: l.topic, raw: l.payload }; }
    });
  }
  stop() { this.proc.kill('SIGTERM'); }
}
