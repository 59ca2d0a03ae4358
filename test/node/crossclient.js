#!/usr/bin/env node
// Cross-client driver for Warren's tests, using amqplib (test/node/package.json).
//
//   node crossclient.js AMQP_URL COMMAND SPEC_JSON
//
// prints one JSON object on stdout; errors go to stderr with exit status 1.
// SPEC_JSON "-" reads the spec from standard input.
// It speaks the same protocol as test/python/crossclient.py (see there for
// the commands, MESSAGE, DELIVERY and TYPED-TABLE), with one addition:
// publish with "confirm": true uses createConfirmChannel and waitForConfirms.
//
// amqplib picks the narrowest signed integer type for a JS number (byte,
// short, int, long) and sends a double only for a non-integral number, so
// {"type": "float"} values are sent with the {'!': 'double'} trapdoor. On
// decoding, a double with an integral value comes back as "int": JS cannot
// tell them apart.
'use strict';

const amqp = require('amqplib');

const PROPS = {
  content_type: 'contentType',
  content_encoding: 'contentEncoding',
  delivery_mode: 'deliveryMode',
  priority: 'priority',
  correlation_id: 'correlationId',
  reply_to: 'replyTo',
  expiration: 'expiration',
  message_id: 'messageId',
  timestamp: 'timestamp',
  type: 'type',
  user_id: 'userId',
  app_id: 'appId',
};

function encodeTyped(tv) {
  const v = tv.value;
  switch (tv.type) {
    case 'int':
      return Number(v);
    case 'float':
      return { '!': 'double', value: Number(v) };
    case 'str':
      return String(v);
    case 'bool':
      return Boolean(v);
    case 'bytes':
      return Buffer.from(v, 'base64');
    case 'null':
      return null;
    case 'timestamp':
      return { '!': 'timestamp', value: Number(v) };
    case 'table':
      return encodeTable(v);
    case 'array':
      return v.map(encodeTyped);
    default:
      throw new Error(`unknown typed value ${JSON.stringify(tv)}`);
  }
}

function encodeTable(t) {
  if (t === null || t === undefined) return undefined;
  const out = {};
  for (const [k, v] of Object.entries(t)) out[k] = encodeTyped(v);
  return out;
}

function decodeTyped(v) {
  if (typeof v === 'boolean') return { type: 'bool', value: v };
  if (typeof v === 'number') return { type: Number.isInteger(v) ? 'int' : 'float', value: v };
  if (typeof v === 'bigint') return { type: 'int', value: Number(v) };
  if (typeof v === 'string') return { type: 'str', value: v };
  if (Buffer.isBuffer(v)) return { type: 'bytes', value: v.toString('base64') };
  if (v === null || v === undefined) return { type: 'null', value: null };
  if (Array.isArray(v)) return { type: 'array', value: v.map(decodeTyped) };
  if (typeof v === 'object' && Object.hasOwn(v, '!')) {
    if (v['!'] === 'timestamp') return { type: 'timestamp', value: Number(v.value) };
    return { type: v['!'], value: v.value };
  }
  if (typeof v === 'object') return { type: 'table', value: decodeTable(v) };
  return { type: typeof v, value: String(v) };
}

function decodeTable(t) {
  if (t === null || t === undefined) return null;
  const out = {};
  for (const [k, v] of Object.entries(t)) out[k] = decodeTyped(v);
  return out;
}

function publishOptions(m) {
  const p = m.properties || {};
  const opts = { mandatory: Boolean(m.mandatory) };
  for (const [snake, camel] of Object.entries(PROPS)) {
    if (p[snake] !== undefined) opts[camel] = p[snake];
  }
  const headers = encodeTable(m.headers);
  if (headers !== undefined) opts.headers = headers;
  return opts;
}

function delivery(msg) {
  const props = {};
  for (const [snake, camel] of Object.entries(PROPS)) {
    const v = msg.properties[camel];
    if (v !== undefined && v !== null) props[snake] = v;
  }
  return {
    exchange: msg.fields.exchange,
    routing_key: msg.fields.routingKey,
    redelivered: Boolean(msg.fields.redelivered),
    body_b64: msg.content.toString('base64'),
    properties: props,
    headers: decodeTable(msg.properties.headers),
  };
}

async function setup(conn, spec) {
  const ch = await conn.createChannel();
  for (const x of spec.exchanges || []) {
    await ch.assertExchange(x.name, x.type || 'direct', {
      durable: Boolean(x.durable),
      autoDelete: Boolean(x.auto_delete),
      arguments: encodeTable(x.arguments),
    });
  }
  const names = [];
  for (const q of spec.queues || []) {
    const ok = await ch.assertQueue(q.name, {
      durable: Boolean(q.durable),
      autoDelete: Boolean(q.auto_delete),
      arguments: encodeTable(q.arguments),
    });
    names.push(ok.queue);
  }
  for (const b of spec.bindings || []) {
    await ch.bindQueue(b.queue, b.exchange, b.routing_key || '', encodeTable(b.arguments));
  }
  await ch.close();
  return { queues: names };
}

async function publish(conn, spec) {
  const res = { published: 0, acked: 0, nacked: 0, unroutable: 0 };
  const ch = spec.confirm ? await conn.createConfirmChannel() : await conn.createChannel();
  ch.on('return', () => {
    res.unroutable++;
  });
  for (const m of spec.messages) {
    const body = Buffer.from(m.body_b64 || '', 'base64');
    const opts = publishOptions(m);
    if (spec.confirm) {
      ch.publish(m.exchange || '', m.routing_key || '', body, opts, (err) => {
        if (err) res.nacked++;
        else res.acked++;
      });
    } else {
      ch.publish(m.exchange || '', m.routing_key || '', body, opts);
    }
    res.published++;
  }
  if (spec.confirm) {
    try {
      await ch.waitForConfirms();
    } catch (e) {
      // a nack: counted above
    }
  }
  await ch.close();
  return res;
}

async function consume(conn, spec) {
  const ch = await conn.createChannel();
  if (spec.prefetch) await ch.prefetch(spec.prefetch);
  const got = [];
  let done;
  const finished = new Promise((resolve) => {
    done = resolve;
  });
  const timer = setTimeout(done, (spec.timeout || 30) * 1000);
  const { consumerTag } = await ch.consume(spec.queue, (msg) => {
    if (msg === null) return done(); // cancelled by the server
    got.push(delivery(msg));
    ch.ack(msg);
    if (got.length >= spec.count) done();
  });
  await finished;
  clearTimeout(timer);
  await ch.cancel(consumerTag);
  await ch.close();
  return { messages: got };
}

async function drain(conn, spec) {
  const ch = await conn.createChannel();
  const out = {};
  for (const q of spec.queues) {
    const msgs = [];
    for (;;) {
      const msg = await ch.get(q);
      if (msg === false) break;
      msgs.push(delivery(msg));
      ch.ack(msg);
    }
    out[q] = msgs;
  }
  await ch.close();
  return { queues: out };
}

async function main() {
  const [url, cmd, specJSON] = process.argv.slice(2);
  if (!url || !cmd || !specJSON) {
    throw new Error('usage: node crossclient.js AMQP_URL COMMAND SPEC_JSON');
  }
  const spec = JSON.parse(specJSON === '-' ? require('fs').readFileSync(0, 'utf8') : specJSON);
  const commands = { setup, publish, consume, drain };
  if (!commands[cmd]) throw new Error(`unknown command ${cmd}`);
  const conn = await amqp.connect(url);
  const res = await commands[cmd](conn, spec);
  await conn.close();
  process.stdout.write(`${JSON.stringify(res)}\n`);
}

main().catch((e) => {
  process.stderr.write(`crossclient.js: ${e.stack || e}\n`);
  process.exit(1);
});
