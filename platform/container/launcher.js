// Action container for nodejs kinds, started by the wskx container pool:
//   node launcher.js --port N [--openwhisk-missing REASON]
// It answers POST /init (code text, or a base64 zip with package.json or
// index.js) and POST /run on 127.0.0.1:N, and writes the activation
// sentinel to stdout and stderr after every activation.
'use strict';

const http = require('http');
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const Module = require('module');

const SENTINEL = 'XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX';

function flag(name) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : undefined;
}

const port = Number(flag('--port') || 8080);
const openwhiskMissing = flag('--openwhisk-missing');

// When the openwhisk package is unavailable (not installed, or not on the
// configured node path), say why on require.
if (openwhiskMissing) {
  const resolve = Module._resolveFilename;
  Module._resolveFilename = function (request, ...rest) {
    try {
      return resolve.call(this, request, ...rest);
    } catch (e) {
      if (request === 'openwhisk') {
        e.message = "Cannot find module 'openwhisk': " + openwhiskMissing;
      }
      throw e;
    }
  };
}

let state = 'new'; // new -> ready | failed
let userMain;

function markers() {
  process.stdout.write(SENTINEL + '\n');
  process.stderr.write(SENTINEL + '\n');
}

function reply(res, code, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

// unzip extracts a zip archive (stored or deflated entries) into dir.
function unzip(buf, dir) {
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65557); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) throw new Error('not a zip archive');
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const root = path.resolve(dir);
  for (let n = 0; n < count; n++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error('corrupt zip central directory');
    const method = buf.readUInt16LE(p + 10);
    const csize = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const attrs = buf.readUInt32LE(p + 38);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
    p += 46 + nameLen + extraLen + commentLen;
    const target = path.resolve(root, name);
    if (target !== root && !target.startsWith(root + path.sep)) throw new Error('zip entry outside the archive: ' + name);
    if (name.endsWith('/')) { fs.mkdirSync(target, { recursive: true }); continue; }
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const raw = buf.subarray(start, start + csize);
    let data;
    if (method === 0) data = raw;
    else if (method === 8) data = zlib.inflateRawSync(raw);
    else throw new Error('unsupported zip compression method ' + method + ' for ' + name);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    const mode = (attrs >>> 16) & 0o777;
    fs.writeFileSync(target, data, { mode: mode || 0o644 });
  }
}

function lookup(obj, dotted) {
  return dotted.split('.').reduce((o, k) => (o == null ? undefined : o[k]), obj);
}

function isIdentifier(s) {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(s);
}

function loadMain(msg) {
  const main = typeof msg.main === 'string' && msg.main ? msg.main : 'main';
  const dir = path.resolve('action');
  fs.mkdirSync(dir, { recursive: true });
  let fn;
  if (msg.binary) {
    unzip(Buffer.from(msg.code, 'base64'), dir);
    if (!fs.existsSync(path.join(dir, 'package.json')) && !fs.existsSync(path.join(dir, 'index.js'))) {
      throw 'Zipped actions must contain either package.json or index.js at the root.';
    }
    process.chdir(dir);
    fn = lookup(require(dir), main);
  } else {
    const file = path.join(dir, 'index.js');
    fs.writeFileSync(file, msg.code);
    const mod = new Module(file, module);
    mod.filename = file;
    mod.paths = Module._nodeModulePaths(dir);
    const req = Module.createRequire(file);
    // The code runs as a function body; main is found by name in its
    // scope, or among its exports.
    const tail = isIdentifier(main)
      ? '\n;try { return ' + main + '; } catch (e) { if (!(e instanceof ReferenceError)) throw e; }\nreturn undefined;'
      : '\nreturn undefined;';
    const body = new Function('exports', 'require', 'module', '__filename', '__dirname', msg.code + tail);
    fn = body.call(mod.exports, mod.exports, req, mod, file, dir);
    if (typeof fn !== 'function') fn = lookup(mod.exports, main);
    process.chdir(dir);
  }
  if (typeof fn !== 'function') throw "Action entrypoint '" + main + "' is not a function.";
  return fn;
}

function serializeError(e) {
  if (e instanceof Error) {
    const o = { name: e.name, message: e.message, stack: e.stack };
    for (const k of Object.keys(e)) o[k] = e[k];
    return o;
  }
  return e === undefined || e === null ? {} : e;
}

function doInit(msg, res) {
  if (state !== 'new') {
    // As Apache's nodejs runtime does: the message reaches the container's
    // output too, where OpenWhisk's container tests look for it.
    const msg = 'Cannot initialize the action more than once.';
    console.error('Internal system error:', msg);
    return reply(res, 403, { error: msg });
  }
  // As Apache's nodejs runtime answers (service.js initCode).
  if (typeof msg.code !== 'string' || msg.code === '') {
    markers();
    return reply(res, 403, { error: 'Missing main/no code to execute.' });
  }
  if (msg.env && typeof msg.env === 'object') {
    for (const [k, v] of Object.entries(msg.env)) {
      process.env[k] = typeof v === 'string' ? v : JSON.stringify(v);
    }
  }
  try {
    userMain = loadMain(msg);
    state = 'ready';
    reply(res, 200, { ok: true });
  } catch (e) {
    state = 'failed';
    console.error('Error during initialization:', e);
    markers();
    reply(res, 502, { error: 'Initialization has failed due to: ' + (e && e.stack ? String(e.stack) : String(e)) });
  }
}

function doRun(msg, res) {
  if (state !== 'ready') {
    markers();
    return reply(res, 500, { error: 'Internal system error: container not ready, status: ' + state });
  }
  for (const [k, v] of Object.entries(msg)) {
    if (k !== 'value') process.env['__OW_' + k.toUpperCase()] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  let result;
  try {
    result = userMain(msg.value === undefined ? {} : msg.value);
  } catch (e) {
    console.error(e);
    markers();
    return reply(res, 500, { error: 'An error has occurred: ' + e });
  }
  Promise.resolve(result).then(
    (v) => {
      if (v === undefined) v = {};
      markers();
      if (v === null || typeof v !== 'object') {
        console.error('Result must be of type object but has type "' + typeof v + '":', v);
        return reply(res, 502, { error: 'The action did not return a dictionary.' });
      }
      reply(res, 200, v);
    },
    (e) => {
      markers();
      reply(res, 200, { error: serializeError(e) });
    },
  );
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let msg;
    try {
      msg = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    } catch (e) {
      return reply(res, 400, { error: 'The request is not valid JSON: ' + e.message });
    }
    if (req.method === 'POST' && req.url === '/init') return doInit((msg && msg.value) || {}, res);
    if (req.method === 'POST' && req.url === '/run') return doRun(msg || {}, res);
    reply(res, 404, { error: 'Not found.' });
  });
});
server.requestTimeout = 0;
server.headersTimeout = 0;
server.timeout = 0;
server.keepAliveTimeout = 0;
server.listen(port, '127.0.0.1');
