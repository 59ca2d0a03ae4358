package amqpserver

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"sync"

	"github.com/warrenmq/warren/internal/amqp"
	"github.com/warrenmq/warren/internal/broker"
)

// Direct reply-to, as RabbitMQ 3.10 (rabbit_channel, rabbit_direct_reply_to):
// a channel consumes from the pseudo-queue amq.rabbitmq.reply-to in no-ack
// mode; a message it then publishes with reply_to = amq.rabbitmq.reply-to
// has that property rewritten to amq.rabbitmq.reply-to.<id>.<key>, and a
// publish to the default exchange with that routing key goes straight to
// the consumer, through no queue. The routing itself still finds no queue,
// so, as in RabbitMQ, a mandatory reply is also returned and a confirm is
// an ack at once. <id> names the channel (public, like RabbitMQ's encoded
// pid); <key> is 16 random bytes made per consume, so a name cannot be
// guessed and dies with its consumer. A name that is not one Warren handed
// out reaches nobody, whatever its shape (RabbitMQ 3.10 closes the
// publisher's connection with 541 INTERNAL_ERROR on names it cannot
// decode).

const (
	replyQueue  = "amq.rabbitmq.reply-to"
	replyPrefix = replyQueue + "."
)

// replyConsumer is a channel's direct reply-to consumer.
type replyConsumer struct {
	ch  *channel
	tag string
	id  string // names the channel: base64 of connection and channel numbers
	key string // base64 of 16 random bytes, as RabbitMQ's key
}

// suffix is what follows replyPrefix in the reply_to the broker hands out.
func (rc *replyConsumer) suffix() string { return rc.id + "." + rc.key }

// replyRegistry finds reply consumers by id, for every vhost (RabbitMQ's
// lookup is by pid alone, so a reply can cross vhosts, as there). The
// zero value is ready to use.
type replyRegistry struct {
	mu   sync.RWMutex
	byID map[string]*replyConsumer
}

func (r *replyRegistry) add(rc *replyConsumer) {
	r.mu.Lock()
	if r.byID == nil {
		r.byID = map[string]*replyConsumer{}
	}
	r.byID[rc.id] = rc
	r.mu.Unlock()
}

// remove unregisters rc; once it returns no reply reaches rc any more.
func (r *replyRegistry) remove(rc *replyConsumer) {
	r.mu.Lock()
	if r.byID[rc.id] == rc {
		delete(r.byID, rc.id)
	}
	r.mu.Unlock()
}

// lookupLocked finds the consumer a reply suffix names; r.mu must be held.
// The key is compared in constant time: the id is public, the key is the
// secret.
func (r *replyRegistry) lookupLocked(suffix string) *replyConsumer {
	id, key, ok := strings.Cut(suffix, ".")
	if !ok || strings.Contains(key, ".") {
		return nil
	}
	rc := r.byID[id]
	if rc == nil || subtle.ConstantTimeCompare([]byte(key), []byte(rc.key)) != 1 {
		return nil
	}
	return rc
}

func (r *replyRegistry) exists(suffix string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.lookupLocked(suffix) != nil
}

// deliver hands m to the consumer suffix names, or drops it when there is
// none (closed channel, cancelled consumer, stale or forged name), as
// RabbitMQ does. The read lock is held while writing, so a consumer being
// removed gets nothing after its basic.cancel-ok.
func (r *replyRegistry) deliver(suffix string, m *broker.Message) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if rc := r.lookupLocked(suffix); rc != nil {
		rc.deliver(m)
	}
}

// deliver writes basic.deliver and the content on the consumer's channel
// through the connection's frame buffer, like Sink.Deliver but outside the
// channel's delivery counters (RabbitMQ counts no reply deliveries). The
// delivery tag is the channel's next one, not taken: RabbitMQ does the
// same, it is never acknowledged.
func (rc *replyConsumer) deliver(m *broker.Message) {
	ch := rc.ch
	c := ch.c
	d := broker.Delivery{ConsumerTag: rc.tag, DeliveryTag: ch.sess.NextTag(), Msg: m}
	c.outMu.Lock()
	c.out = appendDeliver(c.out, ch.id, &d)
	c.out = appendContent(c.out, ch.id, m, c.frameMax)
	c.outMu.Unlock()
	c.signal()
}

// replyConsume is basic.consume on amq.rabbitmq.reply-to, with RabbitMQ's
// checks in its order. No permission is needed: nothing is read from a
// queue.
func (ch *channel) replyConsume(m *amqp.BasicConsume) error {
	tag := m.ConsumerTag
	if ch.sess.HasConsumer(tag) {
		return methodError(amqp.ReplyNotAllowed, m, "NOT_ALLOWED - attempt to reuse consumer tag '%s'", tag)
	}
	if !m.NoAck {
		return amqp.ChannelError(amqp.ReplyPreconditionFailed, "PRECONDITION_FAILED - reply consumer cannot acknowledge")
	}
	if ch.reply != nil {
		return amqp.ChannelError(amqp.ReplyPreconditionFailed, "PRECONDITION_FAILED - reply consumer already set")
	}
	if tag == "" {
		tag = "amq.ctag-" + randomID()
	}
	var idb [10]byte
	binary.BigEndian.PutUint64(idb[:], ch.c.id)
	binary.BigEndian.PutUint16(idb[8:], ch.id)
	var key [16]byte
	_, _ = rand.Read(key[:]) // crypto/rand.Read never fails (Go 1.24+)
	rc := &replyConsumer{ch: ch, tag: tag,
		id:  base64.StdEncoding.EncodeToString(idb[:]),
		key: base64.StdEncoding.EncodeToString(key[:])}
	ch.reply = rc
	if !m.NoWait {
		ch.send(&amqp.BasicConsumeOk{ConsumerTag: tag})
	}
	ch.c.srv.replies.add(rc)
	return nil
}

// replyCancel handles basic.cancel of the reply consumer; false means the
// tag is not it. As in RabbitMQ this is checked first, so a queue consumer
// that reuses the reply consumer's tag is not cancelled.
func (ch *channel) replyCancel(m *amqp.BasicCancel) bool {
	rc := ch.reply
	if rc == nil || rc.tag != m.ConsumerTag {
		return false
	}
	ch.dropReply()
	if !m.NoWait {
		ch.send(&amqp.BasicCancelOk{ConsumerTag: m.ConsumerTag})
	}
	return true
}

// dropReply forgets the channel's reply consumer (cancel, channel close).
func (ch *channel) dropReply() {
	if rc := ch.reply; rc != nil {
		ch.reply = nil
		ch.c.srv.replies.remove(rc)
	}
}

// replyDeclare is queue.declare of any name starting with
// amq.rabbitmq.reply-to: always passive, as in RabbitMQ. The pseudo-queue
// itself exists, with one consumer; a reply name exists while its consumer
// does; anything else is not found. CR and LF are removed from the name
// first, as RabbitMQ does.
func (ch *channel) replyDeclare(m *amqp.QueueDeclare) error {
	name := m.Queue
	if strings.ContainsAny(name, "\r\n") {
		name = strings.NewReplacer("\r", "", "\n", "").Replace(name)
	}
	suffix, isReply := strings.CutPrefix(name, replyPrefix)
	if name != replyQueue && !(isReply && ch.c.srv.replies.exists(suffix)) {
		return amqp.ChannelError(amqp.ReplyNotFound, "NOT_FOUND - no queue '%s' in vhost '%s'", name, ch.vhost().Name)
	}
	ch.lastQueue = name
	if !m.NoWait {
		ch.send(&amqp.QueueDeclareOk{Queue: name, MessageCount: 0, ConsumerCount: 1})
	}
	return nil
}

// mayReply is the per-publish test, small enough to inline: does m carry
// a reply-to property (bit 0x02 of the first flag byte), or could it be a
// reply (the default exchange and a key longer than the prefix)?
func mayReply(x *broker.Exchange, m *broker.Message) bool {
	return len(m.Props) > 0 && m.Props[0]&byte(amqp.FlagReplyTo>>8) != 0 ||
		x.Name == "" && len(m.RoutingKey) > len(replyPrefix)
}

// replyPublish runs on a publish that mayReply, once the exchange is
// resolved and permitted, before routing: it rewrites reply_to =
// amq.rabbitmq.reply-to and hands a reply on the default exchange to its
// consumer. Like RabbitMQ's routing it acts at publish time, also inside
// a transaction.
func (ch *channel) replyPublish(x *broker.Exchange, m *broker.Message) error {
	if len(m.Props) > 0 && m.Props[0]&byte(amqp.FlagReplyTo>>8) != 0 {
		if err := ch.rewriteReplyTo(m); err != nil {
			return err
		}
	}
	if x.Name == "" && strings.HasPrefix(m.RoutingKey, replyPrefix) {
		ch.c.srv.replies.deliver(m.RoutingKey[len(replyPrefix):], m)
	}
	return nil
}

// rewriteReplyTo replaces reply_to = amq.rabbitmq.reply-to by the channel's
// reply name; a publish asking for replies needs a reply consumer first.
func (ch *channel) rewriteReplyTo(m *broker.Message) error {
	off, n, ok := replyToSpan(m.Props)
	if !ok || string(m.Props[off+1:off+1+n]) != replyQueue {
		return nil
	}
	if ch.reply == nil {
		return amqp.ChannelError(amqp.ReplyPreconditionFailed, "PRECONDITION_FAILED - fast reply consumer does not exist")
	}
	name := replyPrefix + ch.reply.suffix()
	props := make([]byte, 0, len(m.Props)-n+len(name))
	props = append(props, m.Props[:off]...)
	props = append(props, byte(len(name)))
	props = append(props, name...)
	props = append(props, m.Props[off+1+n:]...)
	m.Props = props
	return nil
}

// replyToSpan finds the reply-to property in raw property flags and values:
// the offset of its length byte and its length. raw has been checked by
// amqp.ScanProperties; the bounds are checked again all the same.
func replyToSpan(raw []byte) (off, n int, ok bool) {
	if len(raw) < 2 {
		return 0, 0, false
	}
	flags := binary.BigEndian.Uint16(raw)
	if flags&amqp.FlagReplyTo == 0 {
		return 0, 0, false
	}
	p := 2
	for w := flags; w&1 != 0; p += 2 { // skip continuation flag words
		if len(raw) < p+2 {
			return 0, 0, false
		}
		w = binary.BigEndian.Uint16(raw[p:])
	}
	// The properties before reply-to, in wire order.
	for _, f := range []struct {
		bit  uint16
		kind byte // 's' shortstr, 't' table, 'o' octet
	}{
		{amqp.FlagContentType, 's'}, {amqp.FlagContentEncoding, 's'}, {amqp.FlagHeaders, 't'},
		{amqp.FlagDeliveryMode, 'o'}, {amqp.FlagPriority, 'o'}, {amqp.FlagCorrelationID, 's'},
	} {
		if flags&f.bit == 0 {
			continue
		}
		switch f.kind {
		case 's':
			if p >= len(raw) {
				return 0, 0, false
			}
			p += 1 + int(raw[p])
		case 't':
			if len(raw) < p+4 || uint64(binary.BigEndian.Uint32(raw[p:])) > uint64(len(raw)-p-4) {
				return 0, 0, false
			}
			p += 4 + int(binary.BigEndian.Uint32(raw[p:]))
		case 'o':
			p++
		}
		if p > len(raw) {
			return 0, 0, false
		}
	}
	if p >= len(raw) || p+1+int(raw[p]) > len(raw) {
		return 0, 0, false
	}
	return p, int(raw[p]), true
}
