package amqpserver

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/warrenmq/warren/internal/amqp"
	"github.com/warrenmq/warren/internal/auth"
)

// errHandshake ends a connection that failed before it was open.
var errHandshake = errors.New("handshake failed")

// serverProperties is what connection.start advertises: RabbitMQ's
// capabilities, so clients enable the same features.
func (c *conn) serverProperties() amqp.Table {
	return amqp.Table{
		"product":      "Warren",
		"version":      c.srv.cfg.Version,
		"platform":     "Go " + runtime.Version(),
		"copyright":    "Warren authors",
		"information":  "Warren, an AMQP 0-9-1 broker compatible with RabbitMQ",
		"cluster_name": c.srv.cfg.ClusterName,
		"capabilities": amqp.Table{
			"publisher_confirms":           true,
			"exchange_exchange_bindings":   true,
			"basic.nack":                   true,
			"consumer_cancel_notify":       true,
			"connection.blocked":           true,
			"consumer_priorities":          true,
			"authentication_failure_close": true,
			"per_consumer_qos":             true,
			"direct_reply_to":              true,
		},
	}
}

// handshake runs the protocol header, start, tune and open exchanges.
// A client that says nothing is dropped after the handshake timeout.
func (c *conn) handshake() error {
	deadline := time.Now().Add(c.srv.cfg.HandshakeTimeout)
	_ = c.nc.SetReadDeadline(deadline)
	if err := c.tlsHandshake(deadline); err != nil {
		return err
	}
	hdr, err := c.r.ReadProtocolHeader()
	if err != nil {
		return err
	}
	// RabbitMQ also takes AMQP 0-9's header (AMQP 1 1 0 9) as 0-9-1.
	if !bytes.Equal(hdr[:], amqp.ProtocolHeader) && !bytes.Equal(hdr[:], []byte{'A', 'M', 'Q', 'P', 1, 1, 0, 9}) {
		// The spec: answer with the version we speak, then close.
		_, _ = c.nc.Write(amqp.ProtocolHeader)
		return fmt.Errorf("%w: bad protocol header %q", errHandshake, hdr[:])
	}
	c.sendMethod(0, &amqp.ConnectionStart{
		VersionMajor: 0, VersionMinor: 9,
		ServerProperties: c.serverProperties(),
		Mechanisms:       c.mechanisms(),
		Locales:          "en_US",
	})

	startOk, err := expect[*amqp.ConnectionStartOk](c, "starting")
	if err != nil {
		return err
	}
	c.clientProps = startOk.ClientProperties
	c.caps, _ = startOk.ClientProperties["capabilities"].(amqp.Table)
	if err := c.authenticate(startOk); err != nil {
		return err
	}

	hb := uint16(c.srv.cfg.Heartbeat / time.Second)
	c.sendMethod(0, &amqp.ConnectionTune{ChannelMax: c.srv.cfg.ChannelMax, FrameMax: c.srv.cfg.FrameMax, Heartbeat: hb})
	tuneOk, err := expect[*amqp.ConnectionTuneOk](c, "tuning")
	if err != nil {
		return err
	}
	if err := c.applyTune(tuneOk); err != nil {
		return c.closeWithError(err)
	}

	open, err := expect[*amqp.ConnectionOpen](c, "opening")
	if err != nil {
		return err
	}
	v, aerr := c.openVhost(open)
	if aerr != nil {
		return c.closeWithError(aerr)
	}
	c.vhost = v
	c.sendMethod(0, &amqp.ConnectionOpenOk{}) // written by us: the writer starts below
	c.intro.opened(c, startOk.Mechanism)
	_ = c.nc.SetReadDeadline(time.Time{})
	c.lastRead.Store(time.Now().UnixNano())
	c.startWriter()
	select {
	case <-c.forced: // shutdown raced with the handshake (see forceClose)
		return fmt.Errorf("%w: closed by the broker while opening", errHandshake)
	default:
	}
	c.openedAs.Store(&openedAs{user: c.user.Name, vhost: v.Name})
	c.log.Debug("connection open")
	return nil
}

// expect reads the next frame, which must be the method M on channel 0.
func expect[M amqp.Method](c *conn, state string) (M, error) {
	var zero M
	for {
		f, err := c.r.ReadFrame()
		if err != nil {
			return zero, err
		}
		if f.Type == amqp.FrameHeartbeat {
			continue
		}
		if f.Type != amqp.FrameMethod || f.Channel != 0 {
			return zero, c.closeWithError(unexpectedFrame(f))
		}
		m, err := amqp.DecodeMethod(f.Payload)
		if err != nil {
			var ae *amqp.Error
			if errors.As(err, &ae) {
				return zero, c.closeWithError(ae)
			}
			return zero, err
		}
		if mm, ok := m.(M); ok {
			return mm, nil
		}
		if _, ok := m.(*amqp.ConnectionClose); ok {
			c.sendCloseOk()
			return zero, errClientClosed
		}
		return zero, c.closeWithError(methodError(amqp.ReplyChannelError, m,
			"CHANNEL_ERROR - unexpected method in connection state %s", state))
	}
}

func (c *conn) authenticate(m *amqp.ConnectionStartOk) error {
	switch {
	case m.Mechanism == auth.External && !c.offers(m.Mechanism):
		return c.closeWithError(methodError(amqp.ReplyCommandInvalid, m,
			"COMMAND_INVALID - invalid authentication mechanism '%s'", m.Mechanism))
	case !c.offers(m.Mechanism):
		return c.closeWithError(methodError(amqp.ReplyCommandInvalid, m,
			"COMMAND_INVALID - unknown authentication mechanism '%s'", m.Mechanism))
	}
	u, name, err := c.login(m.Mechanism, []byte(m.Response))
	if err == nil {
		c.user = u
		return nil
	}
	detail := err.Error()
	c.log.Warn("login refused", "mechanism", m.Mechanism, "user", name, "reason", m.Mechanism+" login refused: "+detail)
	if capability(c.caps, "authentication_failure_close") {
		// RabbitMQ's reason text keeps the detail out of the client's view.
		return c.closeWithError(methodError(amqp.ReplyAccessRefused, nil,
			"ACCESS_REFUSED - Login was refused using authentication mechanism %s. For details see the broker logfile.", m.Mechanism))
	}
	c.flush()
	return fmt.Errorf("%w: %s", errHandshake, detail)
}

// applyTune checks the client's tune-ok against our limits, as RabbitMQ's
// validate_negotiated_integer_value does, and applies it.
func (c *conn) applyTune(m *amqp.ConnectionTuneOk) *amqp.Error {
	// RabbitMQ's fail_negotiation names connection.tune as the method.
	tune := &amqp.ConnectionTune{}
	check := func(field string, min, server, client uint32) *amqp.Error {
		detail := ""
		if field == "channel_max" && client == 0 {
			detail = " (no limit)"
		}
		if client != 0 && client < min {
			return methodError(amqp.ReplyNotAllowed, tune, "NOT_ALLOWED - negotiated %s = %d%s is lower than the minimum allowed value (%d)", field, client, detail, min)
		}
		if server != 0 && (client == 0 || client > server) {
			return methodError(amqp.ReplyNotAllowed, tune, "NOT_ALLOWED - negotiated %s = %d%s is higher than the maximum allowed value (%d)", field, client, detail, server)
		}
		return nil
	}
	if err := check("frame_max", amqp.FrameMinSize, c.srv.cfg.FrameMax, m.FrameMax); err != nil {
		return err
	}
	if err := check("channel_max", 0, uint32(c.srv.cfg.ChannelMax), uint32(m.ChannelMax)); err != nil {
		return err
	}
	c.frameMax = m.FrameMax
	if c.frameMax == 0 {
		c.frameMax = c.srv.cfg.FrameMax
	}
	c.channelMax = m.ChannelMax
	c.r.SetMaxFrameSize(c.frameMax)
	hb := time.Duration(m.Heartbeat) * time.Second
	c.heartbeat.Store(int64(hb))
	c.tuned <- hb
	return nil
}
