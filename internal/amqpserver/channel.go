package amqpserver

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"sync/atomic"

	"github.com/warrenmq/warren/internal/amqp"
	"github.com/warrenmq/warren/internal/broker"
)

// content assembly states
const (
	awaitMethod = iota
	awaitHeader
	awaitBody
)

// channel is one AMQP channel. It is driven by its connection's reader
// goroutine; queues on other goroutines reach it only through the Sink
// methods (deliver.go), which touch nothing but the outbound buffer.
type channel struct {
	c        *conn
	id       uint16
	sess     *broker.Session
	closing  bool        // we sent channel.close and wait for close-ok
	timedOut atomic.Bool // closed for a consumer timeout (timeout.go)

	// Content assembly for basic.publish.
	state     int
	pub       amqp.BasicPublish
	msg       *broker.Message
	remaining uint64

	// Publisher confirms.
	confirm bool
	cf      confirms
	dirty   bool // has confirms to flush at the end of the read batch

	// Transactions: work is buffered until tx.commit.
	tx      bool
	txPubs  []txPublish
	txAcks  []txAck
	scratch broker.Scratch

	intro chanIntro // management counters (introspect.go)

	lastQueue string           // for the empty-name shortcuts of the spec
	xcache    *broker.Exchange // last exchange published to
	az        chanAuthz        // cached access decisions (authz.go)
	reply     *replyConsumer   // direct reply-to consumer (replyto.go)
}

type txPublish struct {
	x         *broker.Exchange
	msg       *broker.Message
	mandatory bool
}

type txAck struct {
	tags     []uint64 // the deliveries it covers, held (broker.Session.Hold)
	kind     int      // 0 ack, 1 nack
	tag      uint64
	multiple bool
	requeue  bool
}

func newChannel(c *conn, id uint16) *channel {
	ch := &channel{c: c, id: id}
	ch.cf.ch = ch
	ch.sess = broker.NewSession(ch)
	return ch
}

// release cancels consumers and requeues unacknowledged deliveries.
func (ch *channel) release() {
	ch.dropReply()
	ch.cf.stop()
	ch.sess.Close()
	ch.txPubs, ch.txAcks = nil, nil
	ch.msg = nil
}

// handleFrame runs one frame through the channel's state machine.
func (ch *channel) handleFrame(f amqp.Frame) error {
	if ch.closing || ch.noticeTimeOut() {
		return ch.handleWhileClosing(f)
	}
	var err error
	switch f.Type {
	case amqp.FrameMethod:
		switch ch.state {
		case awaitHeader:
			return ch.hard(amqp.ReplyUnexpectedFrame, &ch.pub, "UNEXPECTED_FRAME - expected content header for class 60, got non content header frame instead")
		case awaitBody:
			return ch.hard(amqp.ReplyUnexpectedFrame, &ch.pub, "UNEXPECTED_FRAME - expected content body, got non content body frame instead")
		}
		err = ch.handleMethodFrame(f.Payload)
	case amqp.FrameHeader:
		if ch.state != awaitHeader {
			return ch.hard(amqp.ReplyUnexpectedFrame, nil, "UNEXPECTED_FRAME - expected method frame, got non method frame instead")
		}
		err = ch.handleHeader(f.Payload)
	case amqp.FrameBody:
		if ch.state != awaitBody {
			return ch.hard(amqp.ReplyUnexpectedFrame, nil, "UNEXPECTED_FRAME - expected method frame, got non method frame instead")
		}
		err = ch.handleBody(f.Payload)
	}
	if err == nil && f.Type != amqp.FrameMethod && !ch.closing {
		// As rabbit_reader's publish_received: a connection stops being
		// read after a content frame while an alarm is raised, so a
		// message with a body waits, an empty one has gone through.
		ch.c.waitIfBlocked()
	}
	return err
}

func (ch *channel) handleWhileClosing(f amqp.Frame) error {
	if f.Type != amqp.FrameMethod {
		return nil
	}
	m, err := amqp.DecodeMethod(f.Payload)
	if err != nil {
		return nil
	}
	switch m.(type) {
	case *amqp.ChannelCloseOk:
		ch.c.dropChannel(ch)
	case *amqp.ChannelClose:
		ch.send(&amqp.ChannelCloseOk{})
	}
	return nil
}

func (ch *channel) hard(code uint16, m amqp.Method, format string, args ...any) error {
	return methodError(code, m, format, args...)
}

// fail turns an error from handling method m into a channel close (soft
// errors) or a connection close (hard errors, returned to the caller).
func (ch *channel) fail(m amqp.Method, err error) error {
	var ae *amqp.Error
	if be := broker.AsError(err); be != nil {
		code := codeOf(be.Kind)
		ae = methodError(code, m, "%s - %s", amqp.ReplyName(code), be.Text)
	} else if !errors.As(err, &ae) {
		ae = methodError(amqp.ReplyInternalError, m, "INTERNAL_ERROR - %v", err)
	} else if m != nil && ae.ClassID == 0 {
		ae.ClassID, ae.MethodID = m.ClassID(), m.MethodID()
	}
	if ae.Hard() {
		return ae
	}
	ch.c.log.Warn("channel error", "channel", ch.id, "code", ae.Code, "reason", ae.Text)
	ch.closing = true
	ch.state = awaitMethod
	ch.release()
	text := ae.Text
	if len(text) > 255 {
		text = text[:255]
	}
	ch.send(&amqp.ChannelClose{ReplyCode: ae.Code, ReplyText: text, ClassId: ae.ClassID, MethodId: ae.MethodID})
	return nil
}

func codeOf(k broker.Kind) uint16 {
	switch k {
	case broker.KindNotFound:
		return amqp.ReplyNotFound
	case broker.KindPreconditionFailed:
		return amqp.ReplyPreconditionFailed
	case broker.KindAccessRefused:
		return amqp.ReplyAccessRefused
	case broker.KindResourceLocked:
		return amqp.ReplyResourceLocked
	case broker.KindNotAllowed:
		return amqp.ReplyNotAllowed
	case broker.KindCommandInvalid:
		return amqp.ReplyCommandInvalid
	case broker.KindNotImplemented:
		return amqp.ReplyNotImplemented
	case broker.KindResourceError:
		return amqp.ReplyResourceError
	}
	return amqp.ReplyInternalError
}

func (ch *channel) send(m amqp.Method) { ch.c.sendMethod(ch.id, m) }

// handleMethodFrame decodes and runs one method. basic.publish and
// basic.ack, the hot ones, decode into reused structs.
func (ch *channel) handleMethodFrame(payload []byte) error {
	classID, methodID, args, err := amqp.ParseMethod(payload)
	if err != nil {
		return err
	}
	if classID == amqp.ClassBasic {
		switch methodID {
		case amqp.MethodBasicPublish:
			if err := ch.pub.Decode(args); err != nil {
				return err
			}
			return ch.startPublish()
		case amqp.MethodBasicAck:
			var a amqp.BasicAck
			if err := a.Decode(args); err != nil {
				return err
			}
			if err := ch.ack(a.DeliveryTag, a.Multiple); err != nil {
				return ch.fail(&a, err)
			}
			return nil
		}
	}
	m, err := amqp.DecodeMethod(payload)
	if err != nil {
		return err
	}
	if err := ch.handleMethod(m); err != nil {
		return ch.fail(m, err)
	}
	return nil
}

func (ch *channel) vhost() *broker.Vhost { return ch.c.vhost }

func (ch *channel) apply(cmd *broker.Command) (broker.Result, error) {
	cmd.Vhost = ch.vhost().Name
	cmd.Owner = ch.c.id
	return ch.c.srv.cfg.Broker.Apply(cmd)
}

// queueName applies the spec's shortcut: an empty name means the queue
// last declared on this channel.
func (ch *channel) queueName(name string) (string, error) {
	if name != "" {
		return name, nil
	}
	if ch.lastQueue == "" {
		return "", amqp.ChannelError(amqp.ReplyNotFound, "NOT_FOUND - no previously declared queue")
	}
	return ch.lastQueue, nil
}

func (ch *channel) handleMethod(m amqp.Method) error {
	switch m := m.(type) {
	case *amqp.ChannelOpen:
		return ch.hard(amqp.ReplyChannelError, m, "CHANNEL_ERROR - second 'channel.open' seen")
	case *amqp.ChannelClose:
		ch.release()
		ch.send(&amqp.ChannelCloseOk{})
		ch.c.dropChannel(ch)
		return nil
	case *amqp.ChannelCloseOk:
		return nil
	case *amqp.ChannelFlow:
		if !m.Active {
			return ch.hard(amqp.ReplyNotImplemented, m, "NOT_IMPLEMENTED - active=false")
		}
		ch.send(&amqp.ChannelFlowOk{Active: true})
		return nil
	case *amqp.ChannelFlowOk:
		return nil

	case *amqp.ExchangeDeclare:
		if err := ch.authorizeExchangeDeclare(m); err != nil {
			return err
		}
		_, err := ch.apply(&broker.Command{Op: broker.OpDeclareExchange, Name: m.Exchange, Type: m.Type,
			Passive: m.Passive, Durable: m.Durable, AutoDelete: m.AutoDelete, Internal: m.Internal, Args: m.Arguments})
		if err != nil {
			return err
		}
		if !m.NoWait {
			ch.send(&amqp.ExchangeDeclareOk{})
		}
		return nil
	case *amqp.ExchangeDelete:
		if err := ch.authorizeExchangeDelete(m); err != nil {
			return err
		}
		if _, err := ch.apply(&broker.Command{Op: broker.OpDeleteExchange, Name: m.Exchange, IfUnused: m.IfUnused}); err != nil {
			return err
		}
		if !m.NoWait {
			ch.send(&amqp.ExchangeDeleteOk{})
		}
		return nil
	case *amqp.ExchangeBind:
		return ch.bindExchange(broker.OpBind, m.Destination, m.Source, m.RoutingKey, m.Arguments, m.NoWait, &amqp.ExchangeBindOk{})
	case *amqp.ExchangeUnbind:
		return ch.bindExchange(broker.OpUnbind, m.Destination, m.Source, m.RoutingKey, m.Arguments, m.NoWait, &amqp.ExchangeUnbindOk{})

	case *amqp.QueueDeclare:
		return ch.queueDeclare(m)
	case *amqp.QueueBind:
		name, err := ch.queueName(m.Queue)
		if err != nil {
			return err
		}
		key := m.RoutingKey
		if m.Queue == "" && key == "" {
			key = name // the spec: both empty means bind by the last queue's name
		}
		if err := ch.authorizeBind(broker.DestQueue, name, m.Exchange, key); err != nil {
			return err
		}
		if _, err := ch.apply(&broker.Command{Op: broker.OpBind, Source: m.Exchange, Destination: name,
			DestType: broker.DestQueue, Key: key, Args: m.Arguments}); err != nil {
			return err
		}
		if !m.NoWait {
			ch.send(&amqp.QueueBindOk{})
		}
		return nil
	case *amqp.QueueUnbind:
		name, err := ch.queueName(m.Queue)
		if err != nil {
			return err
		}
		key := m.RoutingKey
		if m.Queue == "" && key == "" {
			key = name // as for queue.bind
		}
		if err := ch.authorizeBind(broker.DestQueue, name, m.Exchange, key); err != nil {
			return err
		}
		if _, err := ch.apply(&broker.Command{Op: broker.OpUnbind, Source: m.Exchange, Destination: name,
			DestType: broker.DestQueue, Key: key, Args: m.Arguments}); err != nil {
			return err
		}
		ch.send(&amqp.QueueUnbindOk{})
		return nil
	case *amqp.QueuePurge:
		name, err := ch.queueName(m.Queue)
		if err != nil {
			return err
		}
		if err := ch.allowed(broker.DestQueue, name, broker.PermRead); err != nil {
			return err
		}
		q, err := ch.vhost().QueueFor(name, ch.c.id)
		if err != nil {
			return err
		}
		n := q.Purge()
		if !m.NoWait {
			ch.send(&amqp.QueuePurgeOk{MessageCount: uint32(n)})
		}
		return nil
	case *amqp.QueueDelete:
		name, err := ch.queueName(m.Queue)
		if err != nil {
			return err
		}
		if err := ch.allowed(broker.DestQueue, name, broker.PermConfigure); err != nil {
			return err
		}
		r, err := ch.apply(&broker.Command{Op: broker.OpDeleteQueue, Name: name, IfUnused: m.IfUnused, IfEmpty: m.IfEmpty})
		if err != nil {
			return err
		}
		if !m.NoWait {
			ch.send(&amqp.QueueDeleteOk{MessageCount: uint32(r.MessageCount)})
		}
		return nil

	case *amqp.BasicQos:
		if m.PrefetchSize != 0 {
			return ch.hard(amqp.ReplyNotImplemented, m, "NOT_IMPLEMENTED - prefetch_size!=0 (%d)", m.PrefetchSize)
		}
		ch.sess.SetPrefetch(uint32(m.PrefetchCount), m.Global)
		ch.send(&amqp.BasicQosOk{})
		return nil
	case *amqp.BasicConsume:
		return ch.consume(m)
	case *amqp.BasicCancel:
		if ch.replyCancel(m) {
			return nil
		}
		ch.sess.Cancel(m.ConsumerTag)
		if !m.NoWait {
			ch.send(&amqp.BasicCancelOk{ConsumerTag: m.ConsumerTag})
		}
		return nil
	case *amqp.BasicGet:
		return ch.get(m)
	case *amqp.BasicReject:
		return ch.nack(m.DeliveryTag, false, m.Requeue)
	case *amqp.BasicNack:
		return ch.nack(m.DeliveryTag, m.Multiple, m.Requeue)
	case *amqp.BasicRecover:
		if !m.Requeue {
			return ch.hard(amqp.ReplyNotImplemented, m, "NOT_IMPLEMENTED - requeue=false")
		}
		ch.sess.Recover()
		ch.send(&amqp.BasicRecoverOk{})
		return nil
	case *amqp.BasicRecoverAsync:
		if !m.Requeue {
			return ch.hard(amqp.ReplyNotImplemented, m, "NOT_IMPLEMENTED - requeue=false")
		}
		ch.sess.Recover()
		return nil

	case *amqp.TxSelect:
		if ch.confirm {
			return amqp.ChannelError(amqp.ReplyPreconditionFailed, "PRECONDITION_FAILED - cannot switch from confirm to tx mode")
		}
		ch.tx = true
		ch.intro.tx.Store(true)
		ch.send(&amqp.TxSelectOk{})
		return nil
	case *amqp.TxCommit:
		if !ch.tx {
			return amqp.ChannelError(amqp.ReplyPreconditionFailed, "PRECONDITION_FAILED - channel is not transactional")
		}
		if err := ch.commit(); err != nil {
			return err
		}
		ch.send(&amqp.TxCommitOk{})
		return nil
	case *amqp.TxRollback:
		if !ch.tx {
			return amqp.ChannelError(amqp.ReplyPreconditionFailed, "PRECONDITION_FAILED - channel is not transactional")
		}
		for _, a := range ch.txAcks {
			ch.sess.Unhold(a.tags)
		}
		ch.txPubs, ch.txAcks = ch.txPubs[:0], ch.txAcks[:0]
		ch.send(&amqp.TxRollbackOk{})
		return nil

	case *amqp.ConfirmSelect:
		if ch.tx {
			return amqp.ChannelError(amqp.ReplyPreconditionFailed, "PRECONDITION_FAILED - cannot switch from tx to confirm mode")
		}
		ch.confirm = true
		ch.intro.confirm.Store(true)
		if !m.NoWait {
			ch.send(&amqp.ConfirmSelectOk{})
		}
		return nil
	}
	// rabbit_channel's catch-all, for server methods and connection
	// methods on a channel alike.
	return ch.hard(amqp.ReplyCommandInvalid, m, "COMMAND_INVALID - unimplemented method")
}

// bindExchange runs exchange.bind and exchange.unbind, answering with ok.
func (ch *channel) bindExchange(op broker.Op, dest, source, key string, args amqp.Table, noWait bool, ok amqp.Method) error {
	if err := ch.authorizeBind(broker.DestExchange, dest, source, key); err != nil {
		return err
	}
	if _, err := ch.apply(&broker.Command{Op: op, Source: source, Destination: dest,
		DestType: broker.DestExchange, Key: key, Args: args}); err != nil {
		return err
	}
	if !noWait {
		ch.send(ok)
	}
	return nil
}

func (ch *channel) queueDeclare(m *amqp.QueueDeclare) error {
	if strings.HasPrefix(m.Queue, replyQueue) {
		return ch.replyDeclare(m)
	}
	name := m.Queue
	if name == "" && !m.Passive {
		name = "amq.gen-" + randomID()
	} else if !m.Passive && strings.HasPrefix(name, "amq.") {
		// RabbitMQ checks the name a client gives before looking the queue
		// up, so even an existing server-named queue cannot be redeclared.
		return amqp.ChannelError(amqp.ReplyAccessRefused, "ACCESS_REFUSED - queue name '%s' contains reserved prefix 'amq.*'", name)
	}
	if err := ch.authorizeQueueDeclare(name, m); err != nil {
		return err
	}
	r, err := ch.apply(&broker.Command{Op: broker.OpDeclareQueue, Name: name, Passive: m.Passive,
		Durable: m.Durable, Exclusive: m.Exclusive, AutoDelete: m.AutoDelete, Args: m.Arguments})
	if err != nil {
		return err
	}
	ch.lastQueue = name
	if !m.NoWait {
		ch.send(&amqp.QueueDeclareOk{Queue: name, MessageCount: uint32(r.MessageCount), ConsumerCount: uint32(r.ConsumerCount)})
	}
	return nil
}

// randomID is 22 characters of URL-safe base64, as RabbitMQ's amq.gen names.
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (ch *channel) consume(m *amqp.BasicConsume) error {
	if m.Queue == replyQueue {
		return ch.replyConsume(m)
	}
	name, err := ch.queueName(m.Queue)
	if err != nil {
		return err
	}
	if err := ch.allowed(broker.DestQueue, name, broker.PermRead); err != nil {
		return err
	}
	q, err := ch.vhost().QueueFor(name, ch.c.id)
	if err != nil {
		return err
	}
	tag := m.ConsumerTag
	if tag == "" {
		tag = "amq.ctag-" + randomID()
	}
	var onAdded func()
	if !m.NoWait {
		onAdded = func() { ch.send(&amqp.BasicConsumeOk{ConsumerTag: tag}) }
	}
	ch.intro.consumed(tag, m.NoAck)
	_, err = ch.sess.Consume(q, tag, m.NoAck, m.Exclusive, m.Arguments, onAdded)
	return err
}

func (ch *channel) get(m *amqp.BasicGet) error {
	name, err := ch.queueName(m.Queue)
	if err != nil {
		return err
	}
	if err := ch.allowed(broker.DestQueue, name, broker.PermRead); err != nil {
		return err
	}
	q, err := ch.vhost().QueueFor(name, ch.c.id)
	if err != nil {
		return err
	}
	d, ok := q.Get(ch.sess, m.NoAck)
	if !ok {
		ch.intro.getEmpty.Add(1)
		ch.send(&amqp.BasicGetEmpty{})
		return nil
	}
	if m.NoAck {
		ch.intro.getNoAck.Add(1)
	} else {
		ch.intro.getAck.Add(1)
	}
	ch.sendGetOk(&d)
	return nil
}

func (ch *channel) ack(tag uint64, multiple bool) error {
	if ch.tx {
		tags, err := ch.sess.Hold(tag, multiple)
		if err != nil {
			return err
		}
		ch.txAcks = append(ch.txAcks, txAck{tags: tags, tag: tag, multiple: multiple})
		return nil
	}
	n, err := ch.sess.AckCount(tag, multiple)
	ch.intro.acked.Add(uint64(n))
	return err
}

func (ch *channel) nack(tag uint64, multiple, requeue bool) error {
	if ch.tx {
		tags, err := ch.sess.Hold(tag, multiple)
		if err != nil {
			return err
		}
		ch.txAcks = append(ch.txAcks, txAck{tags: tags, kind: 1, tag: tag, multiple: multiple, requeue: requeue})
		return nil
	}
	return ch.sess.Nack(tag, multiple, requeue)
}

// commit carries out a transaction's publishes, then its acks.
func (ch *channel) commit() error {
	for _, p := range ch.txPubs {
		ch.route(p.x, p.msg, p.mandatory)
	}
	ch.txPubs = ch.txPubs[:0]
	acks := ch.txAcks
	ch.txAcks = ch.txAcks[:0]
	for _, a := range acks {
		how := broker.SettleAck
		if a.kind == 1 {
			how = broker.SettleReject
			if a.requeue {
				how = broker.SettleRequeue
			}
		}
		n := ch.sess.SettleHeld(a.tags, how)
		if a.kind == 0 {
			ch.intro.acked.Add(uint64(n))
		}
	}
	return nil
}

// --- publishing ---

// startPublish begins content assembly after basic.publish.
func (ch *channel) startPublish() error {
	if ch.pub.Immediate {
		return ch.hard(amqp.ReplyNotImplemented, &ch.pub, "NOT_IMPLEMENTED - immediate=true")
	}
	ch.state = awaitHeader
	return nil
}

func (ch *channel) handleHeader(payload []byte) error {
	classID, size, props, err := amqp.ParseHeader(payload)
	if err != nil {
		return err
	}
	if payload[2] != 0 || payload[3] != 0 {
		// RabbitMQ's assembler only takes weight 0 as a content header.
		return ch.hard(amqp.ReplyUnexpectedFrame, &ch.pub, "UNEXPECTED_FRAME - expected content header for class 60, got non content header frame instead")
	}
	if classID != amqp.ClassBasic {
		return ch.hard(amqp.ReplyUnexpectedFrame, &ch.pub, "UNEXPECTED_FRAME - expected content header for class 60, got one for class %d instead", classID)
	}
	sum, err := amqp.ScanProperties(props)
	if err != nil {
		return ch.hard(amqp.ReplySyntaxError, &ch.pub, "SYNTAX_ERROR - malformed content header properties: %v", err)
	}
	if max := ch.c.srv.cfg.MaxMessageSize; size > uint64(max) {
		ch.state = awaitMethod
		return ch.fail(&ch.pub, amqp.ChannelError(amqp.ReplyPreconditionFailed,
			"PRECONDITION_FAILED - message size %d is larger than configured max size %d", size, max))
	}
	if err := ch.checkUserID(sum.UserID); err != nil {
		ch.state = awaitMethod
		return ch.fail(&ch.pub, err)
	}
	// One allocation holds properties and body.
	// Reserve at most a frame's worth up front: a client announcing a huge
	// body must send it before we hold the memory (RabbitMQ also collects
	// body fragments as they arrive).
	buf := make([]byte, len(props), len(props)+int(min(size, uint64(ch.c.frameMax))))
	copy(buf, props)
	ch.msg = &broker.Message{
		Exchange:   ch.pub.Exchange,
		RoutingKey: ch.pub.RoutingKey,
		Props:      buf[:len(props):len(props)],
		Body:       buf[len(props):len(props)],
	}
	if err := ch.msg.ApplySummary(&sum); err != nil {
		ch.state = awaitMethod
		return ch.fail(&ch.pub, err)
	}
	ch.remaining = size
	if size == 0 {
		return ch.completePublish()
	}
	ch.state = awaitBody
	return nil
}

func (ch *channel) handleBody(payload []byte) error {
	if uint64(len(payload)) > ch.remaining {
		return ch.hard(amqp.ReplyFrameError, &ch.pub, "FRAME_ERROR - content body of %d bytes exceeds the %d announced", len(payload), ch.remaining)
	}
	ch.msg.Body = append(ch.msg.Body, payload...)
	ch.remaining -= uint64(len(payload))
	if ch.remaining == 0 {
		return ch.completePublish()
	}
	return nil
}

// completePublish routes an assembled message (or keeps it for tx.commit).
func (ch *channel) completePublish() error {
	ch.state = awaitMethod
	m := ch.msg
	ch.msg = nil
	x := ch.xcache
	if x == nil || x.Name != m.Exchange || x.Deleted() || !ch.publishCached() {
		var err error
		x, err = ch.exchangeForPublish(m.Exchange)
		if err != nil {
			return ch.fail(&ch.pub, err)
		}
		ch.xcache = x
	}
	if err := ch.checkTopicPublish(x, m.RoutingKey); err != nil {
		return ch.fail(&ch.pub, err)
	}
	if mayReply(x, m) {
		if err := ch.replyPublish(x, m); err != nil {
			return ch.fail(&ch.pub, err)
		}
	}
	if ch.tx {
		ch.txPubs = append(ch.txPubs, txPublish{x: x, msg: m, mandatory: ch.pub.Mandatory})
		return nil
	}
	res := ch.route(x, m, ch.pub.Mandatory)
	if res.Backlog != nil {
		ch.c.flowQueue = res.Backlog
	}
	if ch.confirm {
		ch.cf.add(res.LSN, res.Refused)
		if !ch.dirty {
			ch.dirty = true
			ch.c.dirty = append(ch.c.dirty, ch)
		}
	}
	return nil
}

func (ch *channel) route(x *broker.Exchange, m *broker.Message, mandatory bool) broker.PublishResult {
	res, _ := ch.vhost().Publish(x, m, &ch.scratch)
	ch.intro.published.Add(1)
	if res.Routed == 0 && mandatory {
		ch.intro.returned.Add(1)
		ch.sendReturn(m, amqp.ReplyNoRoute, "NO_ROUTE")
	} else if res.Routed == 0 {
		ch.intro.dropped.Add(1)
	}
	return res
}

// flushConfirms sends the confirms that are due; publishes still waiting
// for the disk are confirmed by the store's sync callback instead. The
// channel registers for that callback before reading the synced position,
// so no sync can slip in between unnoticed.
func (ch *channel) flushConfirms() {
	ch.dirty = false
	if ch.cf.pendingDurable() {
		ch.c.srv.waitSync(ch)
	}
	ch.cf.flush(ch.c.srv.cfg.Broker.Synced())
}
