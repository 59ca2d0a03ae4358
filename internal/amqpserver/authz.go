package amqpserver

import (
	"crypto/x509"
	"fmt"
	"strings"
	"sync"

	"github.com/warrenmq/warren/internal/amqp"
	"github.com/warrenmq/warren/internal/auth"
	"github.com/warrenmq/warren/internal/broker"
)

// Authentication, authorisation and connection limits, following
// rabbit_reader (login, connection.open) and rabbit_channel (the
// check_*_permitted calls of each method). The rules themselves are the
// broker's (CheckResourceAccess and friends); this file decides which rule
// applies to which AMQP method, in RabbitMQ's order, and caches verdicts.

// --- login ---

// mechanisms is what connection.start offers: EXTERNAL only on a TLS
// connection that presented a verified client certificate.
func (c *conn) mechanisms() string {
	if c.az.peerCert != nil {
		return auth.Mechanisms + " " + auth.External
	}
	return auth.Mechanisms
}

func (c *conn) offers(mech string) bool {
	for _, m := range strings.Fields(c.mechanisms()) {
		if m == mech {
			return true
		}
	}
	return false
}

// blankPassword is the internal backend's refusal of an empty password.
const blankPassword = "user '%s' attempted to log in with a blank password, which is prohibited by the internal authN backend. " +
	"To use TLS/x509 certificate-based authentication, see the rabbitmq_auth_mechanism_ssl plugin and configure the client to use the EXTERNAL authentication mechanism. " +
	"Alternatively change the password for the user to be non-blank."

// login runs a SASL mechanism and the loopback check. On refusal it
// returns the user name (if known) and the detail RabbitMQ logs.
func (c *conn) login(mech string, resp []byte) (*broker.User, string, error) {
	b := c.srv.cfg.Broker
	var name string
	var u *broker.User
	switch mech {
	case auth.External:
		var err error
		name, err = auth.CertLoginName(c.az.peerCert, c.srv.cfg.SSLCertLoginFrom)
		if err != nil {
			return nil, "", err
		}
		if u = b.User(name); u == nil {
			return nil, name, fmt.Errorf("user '%s' - invalid credentials", name)
		}
	default:
		var pass string
		var err error
		name, pass, err = auth.ParseResponse(mech, resp)
		if err != nil {
			return nil, "", err
		}
		if pass == "" {
			return nil, name, fmt.Errorf(blankPassword, name)
		}
		u = b.User(name)
		if u == nil || !auth.VerifyPassword(u.HashingAlgorithm, u.PasswordHash, pass) {
			return nil, name, fmt.Errorf("user '%s' - invalid credentials", name)
		}
	}
	if !auth.LoopbackAllowed(name, c.srv.loopbackUsers(), c.nc.RemoteAddr()) {
		return nil, name, fmt.Errorf("user '%s' can only connect via localhost", name)
	}
	return u, name, nil
}

func (s *Server) loopbackUsers() []string {
	if s.cfg.LoopbackUsers == nil {
		return []string{"guest"}
	}
	return s.cfg.LoopbackUsers
}

// --- connection.open ---

// openVhost applies connection.open's checks in rabbit_reader's order:
// vhost and user connection limits, then access to the vhost. On success
// the connection is counted in the tracker until it ends.
func (c *conn) openVhost(open *amqp.ConnectionOpen) (*broker.Vhost, *amqp.Error) {
	b := c.srv.cfg.Broker
	name, user := open.VirtualHost, c.user.Name
	v := b.Vhost(name)
	vi := b.VhostInfo(name)
	if v == nil || vi == nil {
		return nil, methodError(amqp.ReplyNotAllowed, open, "NOT_ALLOWED - vhost %s not found", name)
	}
	u := b.User(user)
	if u == nil {
		u = c.user
	}
	if err := c.srv.track.add(c, vi, u); err != nil {
		err.ClassID, err.MethodID = open.ClassID(), open.MethodID()
		return nil, err
	}
	err := b.CheckVhostAccess(user, name)
	if err == nil && (b.Vhost(name) != v || b.User(user) == nil) {
		// Deleted while we were checking: the deletion's event may have
		// missed us, so refuse here.
		err = errorf("access to vhost '%s' refused for user '%s'", name, user)
	}
	if err != nil {
		c.srv.track.remove(c)
		return nil, methodError(amqp.ReplyNotAllowed, open, "NOT_ALLOWED - %s", err.Error())
	}
	return v, nil
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// --- connection tracking and limits ---

// connAuthz is a connection's identity as far as access control goes.
// peerCert is set before the AMQP handshake; the rest by the reader
// goroutine.
type connAuthz struct {
	peerCert *x509.Certificate // verified TLS client certificate, or nil
	channels int               // open channels, counted against the user's max-channels
}

// tracker counts open connections per vhost and per user (RabbitMQ's
// connection tracking) and channels per user, for the limits and for
// closing the connections of a deleted vhost or user.
type tracker struct {
	mu       sync.Mutex
	conns    map[*conn]trackedConn
	byVhost  map[string]int
	byUser   map[string]int
	channels map[string]int // per user
}

type trackedConn struct{ vhost, user string }

func (t *tracker) init() {
	t.conns = map[*conn]trackedConn{}
	t.byVhost = map[string]int{}
	t.byUser = map[string]int{}
	t.channels = map[string]int{}
}

// add counts c in vhost vi for user u unless a limit is reached.
func (t *tracker) add(c *conn, vi *broker.VhostInfo, u *broker.User) *amqp.Error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n, ok := vi.Limit(broker.LimitMaxConnections); ok && int64(t.byVhost[vi.Name]) >= n {
		return amqp.ConnectionError(amqp.ReplyNotAllowed, "NOT_ALLOWED - access to vhost '%s' refused for user '%s': connection limit (%d) is reached", vi.Name, u.Name, n)
	}
	if n, ok := u.Limit(broker.LimitMaxConnections); ok && int64(t.byUser[u.Name]) >= n {
		return amqp.ConnectionError(amqp.ReplyNotAllowed, "NOT_ALLOWED - connection refused for user '%s': user connection limit (%d) is reached", u.Name, n)
	}
	t.conns[c] = trackedConn{vi.Name, u.Name}
	t.byVhost[vi.Name]++
	t.byUser[u.Name]++
	return nil
}

// remove forgets c and the channels it still counted.
func (t *tracker) remove(c *conn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	tc, ok := t.conns[c]
	if !ok {
		return
	}
	delete(t.conns, c)
	decr(t.byVhost, tc.vhost, 1)
	decr(t.byUser, tc.user, 1)
	decr(t.channels, tc.user, c.az.channels)
	c.az.channels = 0
}

func decr(m map[string]int, k string, n int) {
	if n == 0 {
		return
	}
	if m[k] -= n; m[k] <= 0 {
		delete(m, k)
	}
}

// openChannel counts a channel of c's user, refusing it over the user's
// max-channels. Reader goroutine.
func (t *tracker) openChannel(c *conn, m amqp.Method) error {
	b := c.srv.cfg.Broker
	name := c.user.Name
	u := b.User(name)
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.conns[c]; !ok {
		return nil
	}
	if u != nil {
		if n, ok := u.Limit(broker.LimitMaxChannels); ok && int64(t.channels[name]) >= n {
			return methodError(amqp.ReplyNotAllowed, m, "NOT_ALLOWED - number of channels opened for user '%s' has reached the maximum allowed user limit of (%d)", name, n)
		}
	}
	t.channels[name]++
	c.az.channels++
	return nil
}

// closeChannel uncounts a channel. Reader goroutine.
func (t *tracker) closeChannel(c *conn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tc, ok := t.conns[c]; ok && c.az.channels > 0 {
		c.az.channels--
		decr(t.channels, tc.user, 1)
	}
}

// matching lists the tracked connections of a vhost or a user.
func (t *tracker) matching(kind, name string) []*conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*conn
	for c, tc := range t.conns {
		if (kind == "vhost" && tc.vhost == name) || (kind == "user" && tc.user == name) {
			out = append(out, c)
		}
	}
	return out
}

// onBrokerEvent closes the connections of a deleted vhost or user with
// RabbitMQ's 320 CONNECTION_FORCED texts. It runs inside the broker's
// metadata lock, so it only queues the close.
func (s *Server) onBrokerEvent(ev broker.Event) {
	cs := s.track.matching(ev.Kind, ev.Name)
	if len(cs) == 0 {
		return
	}
	reason := fmt.Sprintf("%s '%s' is deleted", ev.Kind, ev.Name)
	s.log.Info("closing connections", "count", len(cs), "reason", reason)
	for _, c := range cs {
		c.forceClose(reason)
	}
}

// --- connection_max ---

// acquireSlot waits for room under connection_max (RabbitMQ's, i.e.
// Ranch's, max_connections: past it the listener stops accepting and
// clients wait in the backlog). It reports false once the server closes.
func (s *Server) acquireSlot() bool {
	if s.slots == nil {
		return true
	}
	select {
	case s.slots <- struct{}{}:
		return true
	case <-s.ctx.Done():
		return false
	}
}

func (s *Server) releaseSlot() {
	if s.slots != nil {
		<-s.slots
	}
}

// --- per-channel permission checks (rabbit_channel) ---

// permCacheSize is RabbitMQ's MAX_PERMISSION_CACHE_SIZE.
const permCacheSize = 12

type grant struct {
	kind, name string
	perm       broker.Perm
}

// chanAuthz caches a channel's recent positive access decisions, valid
// while the broker's access generation is unchanged, and the verdict on
// the exchange last published to, so a publish costs one atomic load.
type chanAuthz struct {
	gen    uint64
	grants [permCacheSize]grant
	n      int

	pubOK    bool // the verdict on xcache (write allowed) holds while AccessGen is pubGen
	pubGen   uint64
	pubTopic bool   // xcache is a topic exchange with topic permissions for us
	topicKey string // last routing key allowed on it
	topicOK  bool
}

func (ch *channel) broker() *broker.Broker { return ch.c.srv.cfg.Broker }

// refresh drops the cache when access changed since it was filled.
func (az *chanAuthz) refresh(gen uint64) {
	if az.gen != gen {
		az.gen, az.n, az.pubOK, az.topicOK = gen, 0, false, false
	}
}

// allowed checks perm on a queue or exchange, like check_resource_access.
func (ch *channel) allowed(kind, name string, perm broker.Perm) error {
	b := ch.broker()
	az := &ch.az
	gen := b.AccessGen()
	az.refresh(gen)
	g := grant{kind, name, perm}
	for i := 0; i < az.n; i++ {
		if az.grants[i] == g {
			return nil
		}
	}
	if err := b.CheckResourceAccess(ch.c.user.Name, ch.vhost().Name, kind, name, perm); err != nil {
		return err
	}
	copy(az.grants[1:], az.grants[:min(az.n, permCacheSize-1)])
	az.grants[0] = g
	az.n = min(az.n+1, permCacheSize)
	return nil
}

// publishCached reports whether the verdict on ch.xcache still holds.
func (ch *channel) publishCached() bool {
	return ch.az.pubOK && ch.az.pubGen == ch.broker().AccessGen()
}

// exchangeForPublish resolves basic.publish's exchange as rabbit_channel
// does: write permission (the default exchange is amq.default), then the
// lookup (404), then the internal flag.
func (ch *channel) exchangeForPublish(name string) (*broker.Exchange, error) {
	if err := ch.allowed(broker.DestExchange, name, broker.PermWrite); err != nil {
		return nil, err
	}
	x, err := ch.vhost().ExchangeForPublish(name)
	if err != nil {
		return nil, err
	}
	az := &ch.az
	az.pubOK, az.pubGen = true, az.gen
	az.pubTopic = x.Kind == broker.KindTopic && ch.broker().HasTopicPermission(ch.c.user.Name, ch.vhost().Name, x.Name)
	az.topicOK = false
	return x, nil
}

// checkTopicPublish applies topic write permissions to a publish on the
// resolved exchange x.
func (ch *channel) checkTopicPublish(x *broker.Exchange, key string) error {
	az := &ch.az
	if !az.pubTopic || (az.topicOK && az.topicKey == key) {
		return nil
	}
	if err := ch.broker().CheckTopicAccess(ch.c.user.Name, ch.vhost().Name, x.Name, key, broker.PermWrite); err != nil {
		return err
	}
	az.topicKey, az.topicOK = key, true
	return nil
}

func defaultExchangeRefused() error {
	return amqp.ChannelError(amqp.ReplyAccessRefused, "ACCESS_REFUSED - operation not permitted on the default exchange")
}

// authorizeExchangeDeclare: not the default exchange, configure on it,
// and for a new exchange with an alternate exchange, read on it and write
// on the alternate. Passive declares are not checked.
func (ch *channel) authorizeExchangeDeclare(m *amqp.ExchangeDeclare) error {
	if m.Passive {
		return nil
	}
	if !broker.ValidExchangeType(m.Type) {
		// rabbit_exchange:check_type comes before every other check.
		return amqp.ConnectionError(amqp.ReplyCommandInvalid, "COMMAND_INVALID - unknown exchange type '%s'", m.Type)
	}
	if m.Exchange == "" {
		return defaultExchangeRefused()
	}
	if err := ch.allowed(broker.DestExchange, m.Exchange, broker.PermConfigure); err != nil {
		return err
	}
	if ae, ok := m.Arguments["alternate-exchange"].(string); ok && ch.vhost().Exchange(m.Exchange) == nil {
		if err := ch.allowed(broker.DestExchange, m.Exchange, broker.PermRead); err != nil {
			return err
		}
		return ch.allowed(broker.DestExchange, ae, broker.PermWrite)
	}
	return nil
}

// authorizeExchangeDelete: not the default or a system exchange, then
// configure on it.
func (ch *channel) authorizeExchangeDelete(m *amqp.ExchangeDelete) error {
	if m.Exchange == "" {
		return defaultExchangeRefused()
	}
	if strings.HasPrefix(m.Exchange, "amq.") {
		return amqp.ChannelError(amqp.ReplyAccessRefused, "ACCESS_REFUSED - deletion of system exchange '%s' in vhost '%s' not allowed", m.Exchange, ch.vhost().Name)
	}
	return ch.allowed(broker.DestExchange, m.Exchange, broker.PermConfigure)
}

// authorizeQueueDeclare: configure on the queue (a server-named one by
// its amq.gen- name), and for a new queue with a dead-letter exchange,
// read on the queue and write on the exchange.
func (ch *channel) authorizeQueueDeclare(name string, m *amqp.QueueDeclare) error {
	if m.Passive {
		return nil
	}
	if err := ch.allowed(broker.DestQueue, name, broker.PermConfigure); err != nil {
		return err
	}
	if dlx, ok := m.Arguments["x-dead-letter-exchange"].(string); ok && ch.vhost().Queue(name) == nil {
		if err := ch.allowed(broker.DestQueue, name, broker.PermRead); err != nil {
			return err
		}
		return ch.allowed(broker.DestExchange, dlx, broker.PermWrite)
	}
	return nil
}

// authorizeBind is binding_action's checks, for queue.bind, queue.unbind,
// exchange.bind and exchange.unbind: write on the destination, neither end
// the default exchange, read on the source, and on a topic source the
// topic read permission on the binding key.
func (ch *channel) authorizeBind(destKind, dest, source, key string) error {
	if err := ch.allowed(destKind, dest, broker.PermWrite); err != nil {
		return err
	}
	if (destKind == broker.DestExchange && dest == "") || source == "" {
		return defaultExchangeRefused()
	}
	if err := ch.allowed(broker.DestExchange, source, broker.PermRead); err != nil {
		return err
	}
	if x := ch.vhost().Exchange(source); x != nil && x.Kind == broker.KindTopic {
		return ch.broker().CheckTopicAccess(ch.c.user.Name, ch.vhost().Name, source, key, broker.PermRead)
	}
	return nil
}

// checkUserID is check_user_id_header: a message's user-id must be the
// connection's user unless that user is an impersonator.
func (ch *channel) checkUserID(userID []byte) error {
	if len(userID) == 0 || string(userID) == ch.c.user.Name || ch.c.user.HasTag("impersonator") {
		return nil
	}
	return amqp.ChannelError(amqp.ReplyPreconditionFailed,
		"PRECONDITION_FAILED - user_id property set to '%s' but authenticated user was '%s'", userID, ch.c.user.Name)
}
