package amqpserver

import (
	"encoding/binary"

	"github.com/warrenmq/warren/internal/amqp"
	"github.com/warrenmq/warren/internal/broker"
)

// The broker.Sink side of a channel. These run on whatever goroutine
// dispatches (often another connection's reader), with queue and session
// locks held: they only append to the outbound buffer.

// Deliver writes basic.deliver, the content header and the body frames.
func (ch *channel) Deliver(d broker.Delivery) {
	c := ch.c
	ch.intro.delivered(&d)
	c.outMu.Lock()
	c.out = appendDeliver(c.out, ch.id, &d)
	c.out = appendContent(c.out, ch.id, d.Msg, c.frameMax)
	c.outMu.Unlock()
	c.signal()
}

// Writable reports whether the connection's outbound buffer has room.
func (ch *channel) Writable() bool {
	c := ch.c
	c.outMu.Lock()
	ok := c.writableLocked()
	c.outMu.Unlock()
	return ok
}

// ConsumerCancelled sends basic.cancel when the client understands it.
func (ch *channel) ConsumerCancelled(tag string) {
	if !capability(ch.c.caps, "consumer_cancel_notify") {
		return
	}
	ch.c.sendMethod(ch.id, &amqp.BasicCancel{ConsumerTag: tag, NoWait: true})
}

func (ch *channel) sendGetOk(d *broker.Delivery) {
	c := ch.c
	m := amqp.BasicGetOk{DeliveryTag: d.DeliveryTag, Redelivered: d.Redelivered, Exchange: d.Msg.Exchange,
		RoutingKey: d.Msg.RoutingKey, MessageCount: uint32(d.MessageCount)}
	c.outMu.Lock()
	c.out = amqp.AppendMethodFrame(c.out, ch.id, &m)
	c.out = appendContent(c.out, ch.id, d.Msg, c.frameMax)
	c.outMu.Unlock()
	c.signal()
}

func (ch *channel) sendReturn(msg *broker.Message, code uint16, text string) {
	c := ch.c
	m := amqp.BasicReturn{ReplyCode: code, ReplyText: text, Exchange: msg.Exchange, RoutingKey: msg.RoutingKey}
	c.outMu.Lock()
	c.out = amqp.AppendMethodFrame(c.out, ch.id, &m)
	c.out = appendContent(c.out, ch.id, msg, c.frameMax)
	c.outMu.Unlock()
	c.signal()
}

func appendContent(dst []byte, ch uint16, m *broker.Message, frameMax uint32) []byte {
	dst = amqp.AppendHeaderFrame(dst, ch, amqp.ClassBasic, uint64(len(m.Body)), m.Props)
	return amqp.AppendBodyFrames(dst, ch, m.Body, frameMax)
}

// appendDeliver encodes basic.deliver by hand: it is the hottest frame we
// write, and going through the Method interface would allocate.
func appendDeliver(dst []byte, ch uint16, d *broker.Delivery) []byte {
	start := len(dst)
	dst = append(dst, amqp.FrameMethod, byte(ch>>8), byte(ch), 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint16(dst, amqp.ClassBasic)
	dst = binary.BigEndian.AppendUint16(dst, amqp.MethodBasicDeliver)
	dst = appendShortstr(dst, d.ConsumerTag)
	dst = binary.BigEndian.AppendUint64(dst, d.DeliveryTag)
	if d.Redelivered {
		dst = append(dst, 1)
	} else {
		dst = append(dst, 0)
	}
	dst = appendShortstr(dst, d.Msg.Exchange)
	dst = appendShortstr(dst, d.Msg.RoutingKey)
	binary.BigEndian.PutUint32(dst[start+3:], uint32(len(dst)-start-amqp.FrameHeaderSize))
	return append(dst, amqp.FrameEnd)
}

func appendShortstr(dst []byte, s string) []byte {
	if len(s) > 255 {
		s = s[:255]
	}
	dst = append(dst, byte(len(s)))
	return append(dst, s...)
}
