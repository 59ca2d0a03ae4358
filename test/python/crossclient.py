#!/usr/bin/python3
"""Cross-client driver for Warren's tests, using pika (Debian python3-pika).

    /usr/bin/python3 crossclient.py AMQP_URL COMMAND SPEC_JSON

prints one JSON object on stdout; errors go to stderr with exit status 1.
SPEC_JSON "-" reads the spec from standard input (an argument is limited
to 128 KiB).
test/node/crossclient.js speaks the same protocol with amqplib, and
test/crossclient/crossclient_test.go drives both.

Commands and their SPEC_JSON:
  setup    {"exchanges": [{"name", "type", "durable", "auto_delete", "arguments"}],
            "queues": [{"name", "durable", "auto_delete", "arguments"}],
            "bindings": [{"queue", "exchange", "routing_key", "arguments"}]}
           -> {"queues": [declared names]}
  publish  {"confirm": bool, "messages": [MESSAGE]}
           -> {"published": n, "acked": n, "nacked": n, "unroutable": n}
  consume  {"queue", "count", "timeout"}: basic.consume, ack each
           -> {"messages": [DELIVERY]}
  drain    {"queues": [names]}: basic.get until get-empty, ack each
           -> {"queues": {name: [DELIVERY]}}

MESSAGE is {"exchange", "routing_key", "mandatory", "body_b64",
"properties": {...}, "headers": TYPED-TABLE or null}; DELIVERY is the same
plus "redelivered", with only the properties that were present.
Properties use AMQP names with underscores (content_type, delivery_mode,
timestamp in seconds, ...). A TYPED-TABLE maps keys to
{"type": T, "value": V} with T one of int, float, str, bool, bytes (base64),
null, timestamp (seconds), table, array; that keeps the types a client
chose visible across languages.

pika 1.2.0 decodes a few field types wrongly (pika/data.py decode_value):
'b' as unsigned, 'l' as unsigned, 'f' and 'd' truncated to integers. What
this script reports for those is what pika hands an application.
"""

import base64
import calendar
import datetime
import json
import sys
import time

import pika
import pika.exceptions

PROPS = ["content_type", "content_encoding", "delivery_mode", "priority",
         "correlation_id", "reply_to", "expiration", "message_id",
         "timestamp", "type", "user_id", "app_id"]


def encode_typed(tv):
    """Typed JSON value -> the Python value pika encodes as that type."""
    t, v = tv["type"], tv.get("value")
    if t == "int":
        return int(v)
    if t == "float":
        return float(v)
    if t == "str":
        return str(v)
    if t == "bool":
        return bool(v)
    if t == "bytes":
        return base64.b64decode(v)
    if t == "null":
        return None
    if t == "timestamp":
        return datetime.datetime.fromtimestamp(int(v), tz=datetime.timezone.utc).replace(tzinfo=None)
    if t == "table":
        return encode_table(v)
    if t == "array":
        return [encode_typed(x) for x in v]
    raise ValueError("unknown typed value %r" % (tv,))


def encode_table(t):
    if t is None:
        return None
    return {k: encode_typed(v) for k, v in t.items()}


def decode_typed(v):
    """A value pika decoded -> typed JSON."""
    if isinstance(v, bool):
        return {"type": "bool", "value": v}
    if isinstance(v, int):
        return {"type": "int", "value": int(v)}
    if isinstance(v, float):
        return {"type": "float", "value": v}
    if isinstance(v, str):
        return {"type": "str", "value": v}
    if isinstance(v, bytes):
        return {"type": "bytes", "value": base64.b64encode(v).decode()}
    if v is None:
        return {"type": "null", "value": None}
    if isinstance(v, datetime.datetime):
        return {"type": "timestamp", "value": calendar.timegm(v.utctimetuple())}
    if isinstance(v, dict):
        return {"type": "table", "value": decode_table(v)}
    if isinstance(v, list):
        return {"type": "array", "value": [decode_typed(x) for x in v]}
    return {"type": type(v).__name__, "value": str(v)}


def decode_table(t):
    if t is None:
        return None
    return {k: decode_typed(v) for k, v in t.items()}


def properties(msg):
    p = msg.get("properties") or {}
    kw = {k: p[k] for k in PROPS if k in p}
    headers = msg.get("headers")
    if headers is not None:
        kw["headers"] = encode_table(headers)
    return pika.BasicProperties(**kw)


def delivery(method, props, body):
    out = {
        "exchange": method.exchange,
        "routing_key": method.routing_key,
        "redelivered": bool(method.redelivered),
        "body_b64": base64.b64encode(body).decode(),
        "properties": {k: getattr(props, k) for k in PROPS if getattr(props, k) is not None},
        "headers": decode_table(props.headers),
    }
    return out


def cmd_setup(ch, spec):
    for x in spec.get("exchanges", []):
        ch.exchange_declare(exchange=x["name"], exchange_type=x.get("type", "direct"),
                            durable=x.get("durable", False), auto_delete=x.get("auto_delete", False),
                            arguments=encode_table(x.get("arguments")))
    names = []
    for q in spec.get("queues", []):
        ok = ch.queue_declare(queue=q["name"], durable=q.get("durable", False),
                              auto_delete=q.get("auto_delete", False),
                              arguments=encode_table(q.get("arguments")))
        names.append(ok.method.queue)
    for b in spec.get("bindings", []):
        ch.queue_bind(queue=b["queue"], exchange=b["exchange"], routing_key=b.get("routing_key", ""),
                      arguments=encode_table(b.get("arguments")))
    return {"queues": names}


def cmd_publish(ch, spec):
    confirm = spec.get("confirm", False)
    if confirm:
        ch.confirm_delivery()
    res = {"published": 0, "acked": 0, "nacked": 0, "unroutable": 0}
    for m in spec["messages"]:
        try:
            ch.basic_publish(exchange=m.get("exchange", ""), routing_key=m.get("routing_key", ""),
                             body=base64.b64decode(m.get("body_b64", "")), properties=properties(m),
                             mandatory=m.get("mandatory", False))
            if confirm:
                res["acked"] += 1  # basic_publish returned: the broker acked it
        except pika.exceptions.UnroutableError:
            res["unroutable"] += 1  # returned, then acked
            res["acked"] += 1
        except pika.exceptions.NackError:
            res["nacked"] += 1
        res["published"] += 1
    return res


def cmd_consume(conn, ch, spec):
    want, got = spec["count"], []
    deadline = time.monotonic() + spec.get("timeout", 30)

    def on_message(c, method, props, body):
        got.append(delivery(method, props, body))
        c.basic_ack(method.delivery_tag)

    ch.basic_qos(prefetch_count=spec.get("prefetch", 0))
    tag = ch.basic_consume(queue=spec["queue"], on_message_callback=on_message)
    while len(got) < want and time.monotonic() < deadline:
        conn.process_data_events(time_limit=0.1)
    ch.basic_cancel(tag)
    return {"messages": got}


def cmd_drain(ch, spec):
    out = {}
    for q in spec["queues"]:
        msgs = []
        while True:
            method, props, body = ch.basic_get(queue=q)
            if method is None:
                break
            msgs.append(delivery(method, props, body))
            ch.basic_ack(method.delivery_tag)
        out[q] = msgs
    return {"queues": out}


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    url, cmd, spec = sys.argv[1], sys.argv[2], sys.argv[3]
    spec = json.loads(sys.stdin.read() if spec == "-" else spec)
    conn = pika.BlockingConnection(pika.URLParameters(url))
    ch = conn.channel()
    if cmd == "setup":
        res = cmd_setup(ch, spec)
    elif cmd == "publish":
        res = cmd_publish(ch, spec)
    elif cmd == "consume":
        res = cmd_consume(conn, ch, spec)
    elif cmd == "drain":
        res = cmd_drain(ch, spec)
    else:
        sys.exit("unknown command %r" % cmd)
    conn.close()
    json.dump(res, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
