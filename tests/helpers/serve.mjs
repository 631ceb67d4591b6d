// `s3d-nerf serve` as a child process, and a reader of its job event stream
// (ts/serve/protocol.ts), for tests/serve.test.mjs and tests/serve-browser.test.mjs.
import { spawn, spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { root } from './fixtures.mjs';

const bin = join(root, 'bin', 's3d-nerf.js');

/**
 * Starts `s3d-nerf serve --port 0 ...args`; resolves { url, child, stop() }
 * once the URL line is printed. stop() sends SIGINT and resolves
 * { code, signal, stdout, stderr }.
 */
export function startServe(args, { timeout = 60_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, 'serve', '--port', '0', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let started = false;
    const exited = new Promise((res) => child.on('close', (code, signal) => res({ code, signal, stdout, stderr })));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not print its URL within ${timeout} ms:\n${stdout}\n${stderr}`));
    }, timeout);
    child.stdout.on('data', (d) => {
      stdout += d;
      const m = /http:\/\/\S+\//.exec(stdout);
      if (m && !started) {
        started = true;
        clearTimeout(timer);
        resolve({
          url: m[0],
          child,
          get stderr() {
            return stderr;
          },
          exited,
          async stop() {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
            const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
            const r = await exited;
            clearTimeout(t);
            return r;
          },
        });
      }
    });
    child.stderr.on('data', (d) => (stderr += d));
    exited.then((r) => {
      if (!started) {
        clearTimeout(timer);
        reject(new Error(`serve exited (${r.code ?? r.signal}) before printing its URL:\n${stdout}\n${stderr}`));
      }
    });
  });
}

/**
 * Reads GET url (a job's /events) as it arrives: { events: [...JSON events],
 * frames: [{ index, width, height, jpeg, at }], done: Promise (the stream's
 * end), waitFor(pred, ms) }.
 */
export function readEvents(url) {
  const state = { events: [], frames: [], ended: false };
  const waiters = [];
  const check = () => {
    for (const w of [...waiters]) {
      if (w.pred(state)) {
        waiters.splice(waiters.indexOf(w), 1);
        clearTimeout(w.timer);
        w.resolve(state);
      } else if (state.ended) {
        waiters.splice(waiters.indexOf(w), 1);
        clearTimeout(w.timer);
        w.reject(new Error(`the event stream ended first; events: ${JSON.stringify(state.events)}`));
      }
    }
  };
  state.done = new Promise((resolve, reject) => {
    const req = request(url, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`GET ${url}: ${res.statusCode}`));
        res.resume();
        return;
      }
      let buf = Buffer.alloc(0);
      res.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 5) {
          const type = buf.readUInt8(0);
          const len = buf.readUInt32BE(1);
          if (buf.length < 5 + len) break;
          const payload = buf.subarray(5, 5 + len);
          buf = buf.subarray(5 + len);
          if (type === 1) state.events.push(JSON.parse(payload.toString('utf8')));
          else if (type === 2)
            state.frames.push({ index: payload.readUInt32BE(0), width: payload.readUInt16BE(4), height: payload.readUInt16BE(6), jpeg: payload.subarray(8), at: performance.now() });
          else reject(new Error(`unknown message type ${type}`));
        }
        check();
      });
      res.on('end', () => {
        state.ended = true;
        check();
        resolve(state);
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
  state.done.catch(() => {});
  state.waitFor = (pred, ms = 60_000) =>
    new Promise((resolve, reject) => {
      if (pred(state)) return resolve(state);
      if (state.ended) return reject(new Error(`the event stream ended first; events: ${JSON.stringify(state.events)}`));
      const w = { pred, resolve, reject };
      w.timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(w), 1);
        reject(new Error(`timed out after ${ms} ms; events so far: ${JSON.stringify(state.events)}, ${state.frames.length} frames`));
      }, ms);
      waiters.push(w);
    });
  return state;
}

/** ffprobe's JSON for a file: { format, streams }; undefined without ffprobe. */
export function ffprobe(path) {
  const p = spawnSync('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', path], { encoding: 'utf8' });
  if (p.error) return undefined;
  if (p.status !== 0) throw new Error(`ffprobe ${path}: ${p.stderr}`);
  return JSON.parse(p.stdout);
}

export const hasFfprobe = spawnSync('ffprobe', ['-version'], { stdio: 'ignore' }).status === 0;
