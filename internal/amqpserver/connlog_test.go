package amqpserver

import (
	"bytes"
	"log/slog"
	"net"
	"strings"
	"testing"
)

// The connection's log attributes are added when a record is written, so
// they must still be there: conn always, user and vhost once open, beside
// the attributes from With and from the call itself.
func TestConnLogAttributes(t *testing.T) {
	var buf bytes.Buffer
	s := &Server{log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := newConn(s, a)

	c.log.Debug("not logged")
	c.log.Warn("before open", "k", 1)
	c.openedAs.Store(&openedAs{user: "alice", vhost: "v1"})
	c.log.With("extra", 2).Info("after open", "k", 3)

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2:\n%s", len(lines), buf.String())
	}
	for i, want := range [][]string{
		{`msg="before open"`, `conn="pipe -> pipe"`, "k=1"},
		{`msg="after open"`, `conn="pipe -> pipe" user=alice vhost=v1`, "extra=2", "k=3"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("line %d %q lacks %q", i+1, lines[i], w)
			}
		}
	}
	if strings.Contains(lines[0], "user=") {
		t.Errorf("line 1 %q has a user before the connection was open", lines[0])
	}
}
