package amqpserver_test

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/internal/auth"
	"github.com/warrenmq/warren/internal/broker"
	"github.com/warrenmq/warren/internal/warrentest"
)

// Access control through the real client: the rows of RabbitMQ's
// access-control table (https://www.rabbitmq.com/access-control.html,
// "How Permissions Work"), allowed and refused, with RabbitMQ's texts.

// azApply applies metadata commands, failing the test on error.
func azApply(t testing.TB, b *broker.Broker, cmds ...*broker.Command) {
	t.Helper()
	for _, c := range cmds {
		if _, err := b.Apply(c); err != nil {
			t.Fatalf("%s: %v", c.Op, err)
		}
	}
}

// azUser creates a user with a password.
func azUser(t testing.TB, b *broker.Broker, name, pass string, tags ...string) {
	t.Helper()
	azApply(t, b, &broker.Command{Op: broker.OpAddUser, User: name, PasswordHash: auth.HashPassword(pass), Tags: tags})
}

func azPerms(t testing.TB, b *broker.Broker, user, vhost, conf, write, read string) {
	t.Helper()
	azApply(t, b, &broker.Command{Op: broker.OpSetPermissions, User: user, Vhost: vhost, Configure: conf, Write: write, Read: read})
}

func azURL(p *warrentest.InProc, user, pass, vhost string) string {
	return fmt.Sprintf("amqp://%s:%s@%s/%s", url.PathEscape(user), url.PathEscape(pass), p.Addr, url.PathEscape(vhost))
}

func azDial(t testing.TB, p *warrentest.InProc, user, pass, vhost string) *amqp.Connection {
	t.Helper()
	conn, err := amqp.Dial(azURL(p, user, pass, vhost))
	if err != nil {
		t.Fatalf("dial as %s to vhost %q: %v", user, vhost, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// azTry runs op on a fresh channel of conn and returns the channel
// exception it caused, or nil. A publish is followed by a round trip, so
// an asynchronous refusal is seen.
func azTry(t testing.TB, conn *amqp.Connection, op func(ch *amqp.Channel) error) *amqp.Error {
	t.Helper()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatalf("channel: %v", err)
	}
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	err = op(ch)
	if err == nil {
		err = ch.ExchangeDeclarePassive("amq.direct", "direct", true, false, false, false, nil)
	}
	if err == nil {
		_ = ch.Close()
		return nil
	}
	// The server's channel.close, rather than the client's "channel is
	// not open" when the close raced with our round trip.
	select {
	case e := <-closed:
		if e != nil {
			return e
		}
	case <-time.After(2 * time.Second):
	}
	var ae *amqp.Error
	if errors.As(err, &ae) {
		return ae
	}
	t.Fatalf("unexpected error: %v", err)
	return nil
}

func azWant(t testing.TB, got *amqp.Error, code int, text string) {
	t.Helper()
	if got == nil {
		t.Fatalf("allowed, want %d %q", code, text)
	}
	if got.Code != code || got.Reason != text {
		t.Fatalf("got %d %q, want %d %q", got.Code, got.Reason, code, text)
	}
}

var azSeq atomic.Int64

// TestAccessControlTable runs every row of the table twice: as a user
// whose permissions allow it, then as one whose permissions lack exactly
// the permission the row needs.
func TestAccessControlTable(t *testing.T) {
	t.Parallel()
	p := warrentest.StartInProc(t, warrentest.InProcConfig{})
	b := p.Broker
	all := [3]string{".*", ".*", ".*"}
	type perms [3]string // configure, write, read
	rows := []struct {
		name  string
		setup func(ch *amqp.Channel) error // as an administrator, in the vhost
		op    func(ch *amqp.Channel) error
		allow perms
		deny  []perms
		want  []string // refusal text per deny, %[1]s = vhost, %[2]s = user
	}{
		{
			name: "exchange.declare",
			op: func(ch *amqp.Channel) error {
				return ch.ExchangeDeclare("x1", "direct", false, false, false, false, nil)
			},
			allow: perms{"^x1$", "", ""},
			deny:  []perms{{"^y$", ".*", ".*"}},
			want:  []string{"access to exchange 'x1' in vhost '%[1]s' refused for user '%[2]s'"},
		},
		{
			name: "exchange.declare passive needs nothing",
			setup: func(ch *amqp.Channel) error {
				return ch.ExchangeDeclare("x1", "direct", false, false, false, false, nil)
			},
			op: func(ch *amqp.Channel) error {
				return ch.ExchangeDeclarePassive("x1", "direct", false, false, false, false, nil)
			},
			allow: perms{"", "", ""},
		},
		{
			name: "exchange.declare with alternate exchange",
			op: func(ch *amqp.Channel) error {
				return ch.ExchangeDeclare("x1", "direct", false, false, false, false, amqp.Table{"alternate-exchange": "ae"})
			},
			allow: perms{"^x1$", "^ae$", "^x1$"},
			deny:  []perms{{"", ".*", ".*"}, {"^x1$", "^x1$", "^x1$"}, {"^x1$", "^ae$", ""}},
			want: []string{
				"access to exchange 'x1' in vhost '%[1]s' refused for user '%[2]s'",
				"access to exchange 'ae' in vhost '%[1]s' refused for user '%[2]s'",
				"access to exchange 'x1' in vhost '%[1]s' refused for user '%[2]s'",
			},
		},
		{
			name: "exchange.delete",
			setup: func(ch *amqp.Channel) error {
				return ch.ExchangeDeclare("x1", "direct", false, false, false, false, nil)
			},
			op:    func(ch *amqp.Channel) error { return ch.ExchangeDelete("x1", false, false) },
			allow: perms{"^x1$", "", ""},
			deny:  []perms{{"", ".*", ".*"}},
			want:  []string{"access to exchange 'x1' in vhost '%[1]s' refused for user '%[2]s'"},
		},
		{
			name: "queue.declare",
			op: func(ch *amqp.Channel) error {
				_, err := ch.QueueDeclare("q1", false, false, false, false, nil)
				return err
			},
			allow: perms{"^q1$", "", ""},
			deny:  []perms{{"^q2$", ".*", ".*"}},
			want:  []string{"access to queue 'q1' in vhost '%[1]s' refused for user '%[2]s'"},
		},
		{
			name: "queue.declare server-named needs configure on amq.gen",
			op: func(ch *amqp.Channel) error {
				q, err := ch.QueueDeclare("", false, false, true, false, nil)
				if err == nil && !strings.HasPrefix(q.Name, "amq.gen-") {
					return fmt.Errorf("server-named queue %q", q.Name)
				}
				return err
			},
			allow: perms{"^amq\\.gen", "", ""},
			deny:  []perms{{"^q", ".*", ".*"}},
			want:  []string{"access to queue 'amq.gen-"}, // prefix: the name is random
		},
		{
			name: "queue.declare passive needs nothing",
			setup: func(ch *amqp.Channel) error {
				_, err := ch.QueueDeclare("q1", false, false, false, false, nil)
				return err
			},
			op: func(ch *amqp.Channel) error {
				_, err := ch.QueueDeclarePassive("q1", false, false, false, false, nil)
				return err
			},
			allow: perms{"", "", ""},
		},
		{
			name: "queue.declare with dead-letter exchange",
			op: func(ch *amqp.Channel) error {
				_, err := ch.QueueDeclare("q1", false, false, false, false, amqp.Table{"x-dead-letter-exchange": "dlx"})
				return err
			},
			allow: perms{"^q1$", "^dlx$", "^q1$"},
			deny:  []perms{{"", ".*", ".*"}, {"^q1$", ".*", ""}, {"^q1$", "^q1$", "^q1$"}},
			want: []string{
				"access to queue 'q1' in vhost '%[1]s' refused for user '%[2]s'",
				"access to queue 'q1' in vhost '%[1]s' refused for user '%[2]s'",
				"access to exchange 'dlx' in vhost '%[1]s' refused for user '%[2]s'",
			},
		},
		{
			name: "queue.delete",
			setup: func(ch *amqp.Channel) error {
				_, err := ch.QueueDeclare("q1", false, false, false, false, nil)
				return err
			},
			op:    func(ch *amqp.Channel) error { _, err := ch.QueueDelete("q1", false, false, false); return err },
			allow: perms{"^q1$", "", ""},
			deny:  []perms{{"", ".*", ".*"}},
			want:  []string{"access to queue 'q1' in vhost '%[1]s' refused for user '%[2]s'"},
		},
		{
			name: "exchange.bind",
			setup: func(ch *amqp.Channel) error {
				return errors.Join(ch.ExchangeDeclare("src", "direct", false, false, false, false, nil),
					ch.ExchangeDeclare("dst", "fanout", false, false, false, false, nil))
			},
			op:    func(ch *amqp.Channel) error { return ch.ExchangeBind("dst", "k", "src", false, nil) },
			allow: perms{"", "^dst$", "^src$"},
			deny:  []perms{{".*", "^src$", ".*"}, {".*", ".*", "^dst$"}},
			want: []string{
				"access to exchange 'dst' in vhost '%[1]s' refused for user '%[2]s'",
				"access to exchange 'src' in vhost '%[1]s' refused for user '%[2]s'",
			},
		},
		{
			name: "exchange.unbind",
			setup: func(ch *amqp.Channel) error {
				return errors.Join(ch.ExchangeDeclare("src", "direct", false, false, false, false, nil),
					ch.ExchangeDeclare("dst", "fanout", false, false, false, false, nil),
					ch.ExchangeBind("dst", "k", "src", false, nil))
			},
			op:    func(ch *amqp.Channel) error { return ch.ExchangeUnbind("dst", "k", "src", false, nil) },
			allow: perms{"", "^dst$", "^src$"},
			deny:  []perms{{".*", "", ".*"}, {".*", ".*", ""}},
			want: []string{
				"access to exchange 'dst' in vhost '%[1]s' refused for user '%[2]s'",
				"access to exchange 'src' in vhost '%[1]s' refused for user '%[2]s'",
			},
		},
		{
			name: "queue.bind",
			setup: func(ch *amqp.Channel) error {
				_, err := ch.QueueDeclare("q1", false, false, false, false, nil)
				return errors.Join(err, ch.ExchangeDeclare("x1", "direct", false, false, false, false, nil))
			},
			op:    func(ch *amqp.Channel) error { return ch.QueueBind("q1", "k", "x1", false, nil) },
			allow: perms{"", "^q1$", "^x1$"},
			deny:  []perms{{".*", "^x1$", ".*"}, {".*", ".*", "^q1$"}},
			want: []string{
				"access to queue 'q1' in vhost '%[1]s' refused for user '%[2]s'",
				"access to exchange 'x1' in vhost '%[1]s' refused for user '%[2]s'",
			},
		},
		{
			name: "queue.unbind",
			setup: func(ch *amqp.Channel) error {
				_, err := ch.QueueDeclare("q1", false, false, false, false, nil)
				return errors.Join(err, ch.ExchangeDeclare("x1", "direct", false, false, false, false, nil),
					ch.QueueBind("q1", "k", "x1", false, nil))
			},
			op:    func(ch *amqp.Channel) error { return ch.QueueUnbind("q1", "k", "x1", nil) },
			allow: perms{"", "^q1$", "^x1$"},
			deny:  []perms{{".*", "", ".*"}, {".*", ".*", ""}},
			want: []string{
				"access to queue 'q1' in vhost '%[1]s' refused for user '%[2]s'",
				"access to exchange 'x1' in vhost '%[1]s' refused for user '%[2]s'",
			},
		},
		{
			name: "basic.publish",
			setup: func(ch *amqp.Channel) error {
				return ch.ExchangeDeclare("x1", "fanout", false, false, false, false, nil)
			},
			op: func(ch *amqp.Channel) error {
				return ch.Publish("x1", "k", false, false, amqp.Publishing{Body: []byte("m")})
			},
			allow: perms{"", "^x1$", ""},
			deny:  []perms{{".*", "", ".*"}},
			want:  []string{"access to exchange 'x1' in vhost '%[1]s' refused for user '%[2]s'"},
		},
		{
			name: "basic.publish to the default exchange is write on amq.default",
			op: func(ch *amqp.Channel) error {
				return ch.Publish("", "q1", false, false, amqp.Publishing{Body: []byte("m")})
			},
			allow: perms{"", "^amq\\.default$", ""},
			deny:  []perms{{".*", "^q1$", ".*"}},
			want:  []string{"access to exchange 'amq.default' in vhost '%[1]s' refused for user '%[2]s'"},
		},
		{
			name: "basic.get",
			setup: func(ch *amqp.Channel) error {
				_, err := ch.QueueDeclare("q1", false, false, false, false, nil)
				return err
			},
			op:    func(ch *amqp.Channel) error { _, _, err := ch.Get("q1", true); return err },
			allow: perms{"", "", "^q1$"},
			deny:  []perms{{".*", ".*", ""}},
			want:  []string{"access to queue 'q1' in vhost '%[1]s' refused for user '%[2]s'"},
		},
		{
			name: "basic.consume",
			setup: func(ch *amqp.Channel) error {
				_, err := ch.QueueDeclare("q1", false, false, false, false, nil)
				return err
			},
			op: func(ch *amqp.Channel) error {
				_, err := ch.Consume("q1", "", true, false, false, false, nil)
				return err
			},
			allow: perms{"", "", "^q1$"},
			deny:  []perms{{".*", ".*", "^q2$"}},
			want:  []string{"access to queue 'q1' in vhost '%[1]s' refused for user '%[2]s'"},
		},
		{
			name: "queue.purge",
			setup: func(ch *amqp.Channel) error {
				_, err := ch.QueueDeclare("q1", false, false, false, false, nil)
				return err
			},
			op:    func(ch *amqp.Channel) error { _, err := ch.QueuePurge("q1", false); return err },
			allow: perms{"", "", "^q1$"},
			deny:  []perms{{".*", ".*", ""}},
			want:  []string{"access to queue 'q1' in vhost '%[1]s' refused for user '%[2]s'"},
		},
	}
	admin := "azadmin"
	azUser(t, b, admin, "pw", "administrator")
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			run := func(pm perms, want string) {
				t.Helper()
				n := azSeq.Add(1)
				vhost, user := fmt.Sprintf("acl%d", n), fmt.Sprintf("u%d", n)
				azApply(t, b, &broker.Command{Op: broker.OpAddVhost, Vhost: vhost})
				azPerms(t, b, admin, vhost, all[0], all[1], all[2])
				azUser(t, b, user, "pw")
				azPerms(t, b, user, vhost, pm[0], pm[1], pm[2])
				if row.setup != nil {
					if e := azTry(t, azDial(t, p, admin, "pw", vhost), row.setup); e != nil {
						t.Fatalf("setup: %v", e)
					}
				}
				got := azTry(t, azDial(t, p, user, "pw", vhost), row.op)
				if want == "" {
					if got != nil {
						t.Fatalf("with %q: refused: %v", pm, got)
					}
					return
				}
				text := "ACCESS_REFUSED - " + want
				if strings.Contains(want, "%[") {
					text = "ACCESS_REFUSED - " + fmt.Sprintf(want, vhost, user)
				}
				if got == nil || got.Code != amqp.AccessRefused || !strings.HasPrefix(got.Reason, text) {
					t.Fatalf("with %q: got %v, want 403 %q", pm, got, text)
				}
			}
			run(row.allow, "")
			for i, d := range row.deny {
				run(d, row.want[i])
			}
		})
	}
}

// The default exchange cannot be bound, declared or deleted, whatever the
// permissions; system exchanges cannot be deleted.
func TestAccessDefaultAndSystemExchanges(t *testing.T) {
	t.Parallel()
	p := warrentest.StartInProc(t, warrentest.InProcConfig{})
	conn := azDial(t, p, "guest", "guest", "/")
	for _, tc := range []struct {
		name string
		op   func(ch *amqp.Channel) error
		want string
	}{
		{"declare default", func(ch *amqp.Channel) error { return ch.ExchangeDeclare("", "direct", true, false, false, false, nil) },
			"ACCESS_REFUSED - operation not permitted on the default exchange"},
		{"delete default", func(ch *amqp.Channel) error { return ch.ExchangeDelete("", false, false) },
			"ACCESS_REFUSED - operation not permitted on the default exchange"},
		{"bind from default", func(ch *amqp.Channel) error {
			_, err := ch.QueueDeclare("dq", false, true, false, false, nil)
			return errors.Join(err, ch.QueueBind("dq", "k", "", false, nil))
		}, "ACCESS_REFUSED - operation not permitted on the default exchange"},
		{"delete system", func(ch *amqp.Channel) error { return ch.ExchangeDelete("amq.topic", false, false) },
			"ACCESS_REFUSED - deletion of system exchange 'amq.topic' in vhost '/' not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) { azWant(t, azTry(t, conn, tc.op), amqp.AccessRefused, tc.want) })
	}
}

// Topic permissions restrict routing keys on topic exchanges: write on
// publish, read on bind, with {username} and {vhost} expanded.
func TestAccessTopicPermissions(t *testing.T) {
	t.Parallel()
	p := warrentest.StartInProc(t, warrentest.InProcConfig{})
	b := p.Broker
	azUser(t, b, "tp", "pw")
	azPerms(t, b, "tp", "/", ".*", ".*", ".*")
	azApply(t, b, &broker.Command{Op: broker.OpSetTopicPermissions, User: "tp", Vhost: "/", Exchange: "amq.topic",
		Write: "^{username}\\.", Read: "^{vhost}\\.r\\."})
	conn := azDial(t, p, "tp", "pw", "/")
	pub := func(x, key string) func(ch *amqp.Channel) error {
		return func(ch *amqp.Channel) error {
			return ch.Publish(x, key, false, false, amqp.Publishing{Body: []byte("m")})
		}
	}
	if e := azTry(t, conn, pub("amq.topic", "tp.a")); e != nil {
		t.Fatalf("publish tp.a: %v", e)
	}
	azWant(t, azTry(t, conn, pub("amq.topic", "other.a")), amqp.AccessRefused,
		"ACCESS_REFUSED - access to topic 'other.a' in exchange 'amq.topic' in vhost '/' refused for user 'tp'")
	// Only the exchange the topic permission names is restricted.
	if e := azTry(t, conn, func(ch *amqp.Channel) error {
		return errors.Join(ch.ExchangeDeclare("t2", "topic", false, true, false, false, nil), pub("t2", "other.a")(ch))
	}); e != nil {
		t.Fatalf("publish on t2: %v", e)
	}
	bind := func(key string) func(ch *amqp.Channel) error {
		return func(ch *amqp.Channel) error {
			_, err := ch.QueueDeclare("tq", false, true, false, false, nil)
			return errors.Join(err, ch.QueueBind("tq", key, "amq.topic", false, nil))
		}
	}
	if e := azTry(t, conn, bind("/.r.x")); e != nil {
		t.Fatalf("bind /.r.x: %v", e)
	}
	azWant(t, azTry(t, conn, bind("w.x")), amqp.AccessRefused,
		"ACCESS_REFUSED - access to topic 'w.x' in exchange 'amq.topic' in vhost '/' refused for user 'tp'")
	// A publish channel that was allowed sees a revocation at once.
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	if err := ch.Publish("amq.topic", "tp.b", false, false, amqp.Publishing{}); err != nil {
		t.Fatal(err)
	}
	azApply(t, b, &broker.Command{Op: broker.OpSetTopicPermissions, User: "tp", Vhost: "/", Exchange: "amq.topic", Write: "^nothing$", Read: ".*"})
	_ = ch.Publish("amq.topic", "tp.b", false, false, amqp.Publishing{})
	select {
	case e := <-closed:
		azWant(t, e, amqp.AccessRefused, "ACCESS_REFUSED - access to topic 'tp.b' in exchange 'amq.topic' in vhost '/' refused for user 'tp'")
	case <-time.After(5 * time.Second):
		t.Fatal("publish after the revocation was not refused")
	}
}

// Revoking write permission takes effect on the next publish of an open
// channel (the per-channel verdict cache is invalidated).
func TestAccessRevocationIsImmediate(t *testing.T) {
	t.Parallel()
	p := warrentest.StartInProc(t, warrentest.InProcConfig{})
	b := p.Broker
	azUser(t, b, "rv", "pw")
	azPerms(t, b, "rv", "/", ".*", ".*", ".*")
	conn := azDial(t, p, "rv", "pw", "/")
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	for i := 0; i < 100; i++ {
		if err := ch.Publish("amq.fanout", "", false, false, amqp.Publishing{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := ch.ExchangeDeclarePassive("amq.fanout", "fanout", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	azPerms(t, b, "rv", "/", ".*", "^amq\\.direct$", ".*")
	_ = ch.Publish("amq.fanout", "", false, false, amqp.Publishing{})
	select {
	case e := <-closed:
		azWant(t, e, amqp.AccessRefused, "ACCESS_REFUSED - access to exchange 'amq.fanout' in vhost '/' refused for user 'rv'")
	case <-time.After(5 * time.Second):
		t.Fatal("publish after the revocation was not refused")
	}
}

// A user of vhost A can neither enter vhost B nor see, declare into,
// bind, publish to or consume from it through A.
func TestAccessVhostIsolation(t *testing.T) {
	t.Parallel()
	p := warrentest.StartInProc(t, warrentest.InProcConfig{})
	b := p.Broker
	azApply(t, b, &broker.Command{Op: broker.OpAddVhost, Vhost: "va"}, &broker.Command{Op: broker.OpAddVhost, Vhost: "vb"})
	azUser(t, b, "ua", "pw")
	azUser(t, b, "ub", "pw")
	azPerms(t, b, "ua", "va", ".*", ".*", ".*")
	azPerms(t, b, "ub", "vb", ".*", ".*", ".*")

	// B's objects, with a message waiting.
	cb := azDial(t, p, "ub", "pw", "vb")
	if e := azTry(t, cb, func(ch *amqp.Channel) error {
		_, err := ch.QueueDeclare("qb", false, false, false, false, nil)
		return errors.Join(err, ch.ExchangeDeclare("xb", "fanout", false, false, false, false, nil),
			ch.QueueBind("qb", "", "xb", false, nil),
			ch.Publish("", "qb", false, false, amqp.Publishing{Body: []byte("secret")}))
	}); e != nil {
		t.Fatal(e)
	}

	// A may not enter B.
	_, err := amqp.Dial(azURL(p, "ua", "pw", "vb"))
	var ae *amqp.Error
	if !errors.As(err, &ae) {
		t.Fatalf("dial ua to vb: %v, want a connection exception", err)
	}
	azWant(t, ae, amqp.NotAllowed, "NOT_ALLOWED - access to vhost 'vb' refused for user 'ua'")

	// In A, B's objects do not exist; what A declares stays in A.
	ca := azDial(t, p, "ua", "pw", "va")
	azWant(t, azTry(t, ca, func(ch *amqp.Channel) error {
		_, err := ch.QueueDeclarePassive("qb", false, false, false, false, nil)
		return err
	}), amqp.NotFound, "NOT_FOUND - no queue 'qb' in vhost 'va'")
	azWant(t, azTry(t, ca, func(ch *amqp.Channel) error { _, _, err := ch.Get("qb", true); return err }),
		amqp.NotFound, "NOT_FOUND - no queue 'qb' in vhost 'va'")
	azWant(t, azTry(t, ca, func(ch *amqp.Channel) error {
		_, err := ch.Consume("qb", "", true, false, false, false, nil)
		return err
	}), amqp.NotFound, "NOT_FOUND - no queue 'qb' in vhost 'va'")
	azWant(t, azTry(t, ca, func(ch *amqp.Channel) error {
		return ch.Publish("xb", "", false, false, amqp.Publishing{Body: []byte("intrusion")})
	}), amqp.NotFound, "NOT_FOUND - no exchange 'xb' in vhost 'va'")
	azWant(t, azTry(t, ca, func(ch *amqp.Channel) error {
		_, err := ch.QueueDeclare("qa", false, true, false, false, nil)
		return errors.Join(err, ch.QueueBind("qa", "", "xb", false, nil))
	}), amqp.NotFound, "NOT_FOUND - no exchange 'xb' in vhost 'va'")
	if e := azTry(t, ca, func(ch *amqp.Channel) error {
		_, err := ch.QueueDeclare("qb", false, false, false, false, nil) // A's own qb
		return errors.Join(err, ch.Publish("", "qb", false, false, amqp.Publishing{Body: []byte("from a")}))
	}); e != nil {
		t.Fatal(e)
	}
	chb, err := cb.Channel()
	if err != nil {
		t.Fatal(err)
	}
	q, err := chb.QueueDeclarePassive("qb", false, false, false, false, nil)
	if err != nil || q.Messages != 1 {
		t.Fatalf("B's queue: %+v, %v; want its one message", q, err)
	}
	d, ok, err := chb.Get("qb", true)
	if err != nil || !ok || string(d.Body) != "secret" {
		t.Fatalf("B's message: %q %v %v", d.Body, ok, err)
	}
}

// Logins: wrong and blank passwords, unknown, deleted and password-less
// users are refused with RabbitMQ's 403; a missing vhost is 530.
func TestAccessLogin(t *testing.T) {
	t.Parallel()
	p := warrentest.StartInProc(t, warrentest.InProcConfig{})
	b := p.Broker
	azUser(t, b, "al", "right")
	azPerms(t, b, "al", "/", ".*", ".*", ".*")
	azUser(t, b, "nopass", "x")
	azApply(t, b, &broker.Command{Op: broker.OpChangePassword, User: "nopass"}) // clear_password
	azPerms(t, b, "nopass", "/", ".*", ".*", ".*")
	azUser(t, b, "noperm", "pw")
	// amqp091-go reports the server's 403 on login as its own
	// ErrCredentials; connection_test.go checks RabbitMQ's text on the wire.
	refused := amqp.ErrCredentials.Reason
	for _, tc := range []struct {
		name, user, pass, vhost string
		code                    int
		text                    string
	}{
		{"right", "al", "right", "/", 0, ""},
		{"wrong password", "al", "wrong", "/", amqp.AccessRefused, refused},
		{"blank password", "al", "", "/", amqp.AccessRefused, refused},
		{"unknown user", "nobody", "right", "/", amqp.AccessRefused, refused},
		{"cleared password", "nopass", "x", "/", amqp.AccessRefused, refused},
		{"no permissions", "noperm", "pw", "/", amqp.NotAllowed, "NOT_ALLOWED - access to vhost '/' refused for user 'noperm'"},
		{"no such vhost", "al", "right", "nope", amqp.NotAllowed, "NOT_ALLOWED - vhost nope not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := amqp.Dial(azURL(p, tc.user, tc.pass, tc.vhost))
			if tc.code == 0 {
				if err != nil {
					t.Fatal(err)
				}
				conn.Close()
				return
			}
			if err == nil {
				conn.Close()
				t.Fatal("login accepted")
			}
			var ae *amqp.Error
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v, want a connection exception", err)
			}
			azWant(t, ae, tc.code, tc.text)
		})
	}
	// AMQPLAIN checks the same passwords.
	conn, err := amqp.DialConfig(azURL(p, "al", "x", "/"), amqp.Config{SASL: []amqp.Authentication{&amqp.AMQPlainAuth{Username: "al", Password: "right"}}})
	if err != nil {
		t.Fatalf("AMQPLAIN: %v", err)
	}
	conn.Close()
	_, err = amqp.DialConfig(azURL(p, "al", "x", "/"), amqp.Config{SASL: []amqp.Authentication{&amqp.AMQPlainAuth{Username: "al", Password: "wrong"}}})
	if err == nil {
		t.Fatal("AMQPLAIN with a wrong password accepted")
	}
}

// Deleting a user or a vhost closes their connections with 320
// CONNECTION_FORCED and RabbitMQ's texts.
func TestAccessDeletionClosesConnections(t *testing.T) {
	t.Parallel()
	p := warrentest.StartInProc(t, warrentest.InProcConfig{})
	b := p.Broker
	azApply(t, b, &broker.Command{Op: broker.OpAddVhost, Vhost: "gone"})
	azUser(t, b, "du", "pw")
	azPerms(t, b, "du", "/", ".*", ".*", ".*")
	azPerms(t, b, "guest", "gone", ".*", ".*", ".*")
	cu := azDial(t, p, "du", "pw", "/")
	cv := azDial(t, p, "guest", "guest", "gone")
	other := azDial(t, p, "guest", "guest", "/")
	uClosed := cu.NotifyClose(make(chan *amqp.Error, 1))
	vClosed := cv.NotifyClose(make(chan *amqp.Error, 1))
	wait := func(c chan *amqp.Error, text string) {
		t.Helper()
		select {
		case e := <-c:
			azWant(t, e, amqp.ConnectionForced, text)
		case <-time.After(5 * time.Second):
			t.Fatalf("not closed: want %q", text)
		}
	}
	azApply(t, b, &broker.Command{Op: broker.OpDeleteUser, User: "du"})
	wait(uClosed, "CONNECTION_FORCED - user 'du' is deleted")
	azApply(t, b, &broker.Command{Op: broker.OpDeleteVhost, Vhost: "gone"})
	wait(vClosed, "CONNECTION_FORCED - vhost 'gone' is deleted")
	if other.IsClosed() {
		t.Fatal("an unrelated connection was closed")
	}
	if _, err := other.Channel(); err != nil {
		t.Fatal(err)
	}
}

// Connection limits: a vhost's and a user's max-connections, a user's
// max-channels, and connection_max over the listener.
func TestAccessConnectionLimits(t *testing.T) {
	t.Parallel()
	p := warrentest.StartInProc(t, warrentest.InProcConfig{})
	b := p.Broker
	azApply(t, b, &broker.Command{Op: broker.OpAddVhost, Vhost: "lim"},
		&broker.Command{Op: broker.OpSetVhostLimits, Vhost: "lim", Limits: map[string]int64{"max-connections": 1, "max-queues": 1}})
	azUser(t, b, "lu", "pw")
	azPerms(t, b, "lu", "lim", ".*", ".*", ".*")
	azPerms(t, b, "lu", "/", ".*", ".*", ".*")
	azApply(t, b, &broker.Command{Op: broker.OpSetUserLimits, User: "lu", Limits: map[string]int64{"max-connections": 2, "max-channels": 2}})

	dialErr := func(vhost string) *amqp.Error {
		t.Helper()
		conn, err := amqp.Dial(azURL(p, "lu", "pw", vhost))
		if err == nil {
			t.Cleanup(func() { conn.Close() })
			return nil
		}
		var ae *amqp.Error
		if !errors.As(err, &ae) {
			t.Fatalf("dial: %v", err)
		}
		return ae
	}
	c1 := azDial(t, p, "lu", "pw", "lim")
	azWant(t, dialErr("lim"), amqp.NotAllowed, "NOT_ALLOWED - access to vhost 'lim' refused for user 'lu': connection limit (1) is reached")
	if e := dialErr("/"); e != nil {
		t.Fatal(e)
	}
	azWant(t, dialErr("/"), amqp.NotAllowed, "NOT_ALLOWED - connection refused for user 'lu': user connection limit (2) is reached")

	// max-queues in the vhost.
	if e := azTry(t, c1, func(ch *amqp.Channel) error {
		_, err := ch.QueueDeclare("l1", false, false, false, false, nil)
		return err
	}); e != nil {
		t.Fatal(e)
	}
	azWant(t, azTry(t, c1, func(ch *amqp.Channel) error {
		_, err := ch.QueueDeclare("l2", false, false, false, false, nil)
		return err
	}),
		amqp.PreconditionFailed, "PRECONDITION_FAILED - cannot declare queue 'l2': queue limit in vhost 'lim' (1) is reached")

	// max-channels: two channels, the third closes the connection.
	closed := c1.NotifyClose(make(chan *amqp.Error, 1))
	for i := 0; i < 2; i++ {
		if _, err := c1.Channel(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c1.Channel(); err == nil {
		t.Fatal("third channel opened")
	}
	select {
	case e := <-closed:
		azWant(t, e, amqp.NotAllowed, "NOT_ALLOWED - number of channels opened for user 'lu' has reached the maximum allowed user limit of (2)")
	case <-time.After(5 * time.Second):
		t.Fatal("connection not closed")
	}
	// The closed connection's slot and channels are free again.
	warrentest.Eventually(t, 5*time.Second, func() bool { return dialErr("lim") == nil })
}

// connection_max: past it the listener stops accepting, as Ranch does.
func TestAccessConnectionMax(t *testing.T) {
	t.Parallel()
	p := warrentest.StartInProc(t, warrentest.InProcConfig{ConnectionMax: 2})
	c1 := azDial(t, p, "guest", "guest", "/")
	azDial(t, p, "guest", "guest", "/")
	cfg := amqp.Config{Dial: amqp.DefaultDial(300 * time.Millisecond)}
	if conn, err := amqp.DialConfig(azURL(p, "guest", "guest", "/"), cfg); err == nil {
		conn.Close()
		t.Fatal("a third connection was served")
	}
	c1.Close()
	warrentest.Eventually(t, 5*time.Second, func() bool {
		conn, err := amqp.DialConfig(azURL(p, "guest", "guest", "/"), amqp.Config{Dial: amqp.DefaultDial(time.Second)})
		if err == nil {
			conn.Close()
		}
		return err == nil
	})
}

// user-id must be the connection's user unless it is an impersonator.
func TestAccessUserIDImpersonation(t *testing.T) {
	t.Parallel()
	p := warrentest.StartInProc(t, warrentest.InProcConfig{})
	b := p.Broker
	azUser(t, b, "plain", "pw")
	azUser(t, b, "imp", "pw", "impersonator")
	azPerms(t, b, "plain", "/", ".*", ".*", ".*")
	azPerms(t, b, "imp", "/", ".*", ".*", ".*")
	pub := func(id string) func(ch *amqp.Channel) error {
		return func(ch *amqp.Channel) error {
			return ch.Publish("amq.fanout", "", false, false, amqp.Publishing{UserId: id, Body: []byte("x")})
		}
	}
	plain := azDial(t, p, "plain", "pw", "/")
	if e := azTry(t, plain, pub("plain")); e != nil {
		t.Fatal(e)
	}
	azWant(t, azTry(t, plain, pub("boss")), amqp.PreconditionFailed,
		"PRECONDITION_FAILED - user_id property set to 'boss' but authenticated user was 'plain'")
	if e := azTry(t, azDial(t, p, "imp", "pw", "/"), pub("boss")); e != nil {
		t.Fatal(e)
	}
}
