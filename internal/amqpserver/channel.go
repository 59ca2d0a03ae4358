package amqpserver

import (
	"crypto/rand"
	"encoding/base64"
	"errors"

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
	c       *conn
	id      uint16
	sess    *broker.Session
	closing bool // we sent channel.close and wait for close-ok

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

	lastQueue string           // for the empty-name shortcuts of the spec
	xcache    *broker.Exchange // last exchange published to
}

type txPublish struct {
	x         *broker.Exchange
	msg       *broker.Message
	mandatory bool
}

type txAck struct {
	kind     int // 0 ack, 1 nack
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
	ch.cf.stop()
	ch.sess.Close()
	ch.txPubs, ch.txAcks = nil, nil
	ch.msg = nil
}

// handleFrame runs one frame through the channel's state machine.
func (ch *channel) handleFrame(f amqp.Frame) error {
	if ch.closing {
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
		if _, err := ch.apply(&broker.Command{Op: broker.OpDeleteExchange, Name: m.Exchange, IfUnused: m.IfUnused}); err != nil {
			return err
		}
		if !m.NoWait {
			ch.send(&amqp.ExchangeDeleteOk{})
		}
		return nil
	case *amqp.ExchangeBind:
		if _, err := ch.apply(&broker.Command{Op: broker.OpBind, Source: m.Source, Destination: m.Destination,
			DestType: broker.DestExchange, Key: m.RoutingKey, Args: m.Arguments}); err != nil {
			return err
		}
		if !m.NoWait {
			ch.send(&amqp.ExchangeBindOk{})
		}
		return nil
	case *amqp.ExchangeUnbind:
		if _, err := ch.apply(&broker.Command{Op: broker.OpUnbind, Source: m.Source, Destination: m.Destination,
			DestType: broker.DestExchange, Key: m.RoutingKey, Args: m.Arguments}); err != nil {
			return err
		}
		if !m.NoWait {
			ch.send(&amqp.ExchangeUnbindOk{})
		}
		return nil

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
		if _, err := ch.apply(&broker.Command{Op: broker.OpUnbind, Source: m.Exchange, Destination: name,
			DestType: broker.DestQueue, Key: m.RoutingKey, Args: m.Arguments}); err != nil {
			return err
		}
		ch.send(&amqp.QueueUnbindOk{})
		return nil
	case *amqp.QueuePurge:
		name, err := ch.queueName(m.Queue)
		if err != nil {
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
		ch.txPubs, ch.txAcks = ch.txPubs[:0], ch.txAcks[:0]
		ch.send(&amqp.TxRollbackOk{})
		return nil

	case *amqp.ConfirmSelect:
		if ch.tx {
			return amqp.ChannelError(amqp.ReplyPreconditionFailed, "PRECONDITION_FAILED - cannot switch from tx to confirm mode")
		}
		ch.confirm = true
		if !m.NoWait {
			ch.send(&amqp.ConfirmSelectOk{})
		}
		return nil
	}
	if m.ClassID() == amqp.ClassConnection {
		return ch.hard(amqp.ReplyCommandInvalid, m, "COMMAND_INVALID - connection method %s on channel %d", m.Name(), ch.id)
	}
	return ch.hard(amqp.ReplyCommandInvalid, m, "COMMAND_INVALID - unexpected method %s from client", m.Name())
}

func (ch *channel) queueDeclare(m *amqp.QueueDeclare) error {
	name := m.Queue
	if name == "" && !m.Passive {
		name = "amq.gen-" + randomID()
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
	name, err := ch.queueName(m.Queue)
	if err != nil {
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
	_, err = ch.sess.Consume(q, tag, m.NoAck, m.Exclusive, m.Arguments, onAdded)
	return err
}

func (ch *channel) get(m *amqp.BasicGet) error {
	name, err := ch.queueName(m.Queue)
	if err != nil {
		return err
	}
	q, err := ch.vhost().QueueFor(name, ch.c.id)
	if err != nil {
		return err
	}
	d, ok := q.Get(ch.sess, m.NoAck)
	if !ok {
		ch.send(&amqp.BasicGetEmpty{})
		return nil
	}
	ch.sendGetOk(&d)
	return nil
}

func (ch *channel) ack(tag uint64, multiple bool) error {
	if ch.tx {
		ch.txAcks = append(ch.txAcks, txAck{tag: tag, multiple: multiple})
		return nil
	}
	return ch.sess.Ack(tag, multiple)
}

func (ch *channel) nack(tag uint64, multiple, requeue bool) error {
	if ch.tx {
		ch.txAcks = append(ch.txAcks, txAck{kind: 1, tag: tag, multiple: multiple, requeue: requeue})
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
		var err error
		if a.kind == 0 {
			err = ch.sess.Ack(a.tag, a.multiple)
		} else {
			err = ch.sess.Nack(a.tag, a.multiple, a.requeue)
		}
		if err != nil {
			return err
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
	ch.c.waitIfBlocked()
	ch.state = awaitHeader
	return nil
}

func (ch *channel) handleHeader(payload []byte) error {
	classID, size, props, err := amqp.ParseHeader(payload)
	if err != nil {
		return err
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
	// One allocation holds properties and body.
	buf := make([]byte, len(props), len(props)+int(size))
	copy(buf, props)
	ch.msg = &broker.Message{
		Exchange:   ch.pub.Exchange,
		RoutingKey: ch.pub.RoutingKey,
		Props:      buf[:len(props):len(props)],
		Body:       buf[len(props):len(props)],
		Persistent: sum.DeliveryMode == 2,
		Priority:   sum.Priority,
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
	if x == nil || x.Name != m.Exchange || x.Deleted() {
		var err error
		x, err = ch.vhost().ExchangeForPublish(m.Exchange)
		if err != nil {
			return ch.fail(&ch.pub, err)
		}
		ch.xcache = x
	}
	if ch.tx {
		ch.txPubs = append(ch.txPubs, txPublish{x: x, msg: m, mandatory: ch.pub.Mandatory})
		return nil
	}
	res := ch.route(x, m, ch.pub.Mandatory)
	if ch.confirm {
		ch.cf.add(res.LSN, false)
		if !ch.dirty {
			ch.dirty = true
			ch.c.dirty = append(ch.c.dirty, ch)
		}
	}
	return nil
}

func (ch *channel) route(x *broker.Exchange, m *broker.Message, mandatory bool) broker.PublishResult {
	res, _ := ch.vhost().Publish(x, m, &ch.scratch)
	if res.Routed == 0 && mandatory {
		ch.sendReturn(m, amqp.ReplyNoRoute, "NO_ROUTE")
	}
	return res
}

// flushConfirms sends the confirms that are due; publishes still waiting
// for the disk are confirmed by the store's sync callback instead.
func (ch *channel) flushConfirms() {
	ch.dirty = false
	ch.cf.flush(ch.c.srv.cfg.Broker.Synced())
	if ch.cf.pendingDurable() {
		ch.c.srv.waitSync(ch)
	}
}
