package perf

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/warrenmq/warren/internal/amqp"
)

// The idle modes measure a broker's memory per connection and per queue:
// open --idle-connections connections (one channel each) or declare
// --idle-queues queues, at --connection-rate a second, print
// "idle: ready ...", and hold them until -z seconds pass or ctx ends.
// Scripts wait for the ready line, read the broker's RSS, then interrupt.

const idleDialers = 8 // concurrent handshakes while opening connections

func runIdle(ctx context.Context, cfg *Config, out io.Writer) error {
	var uris []URI
	for _, s := range cfg.URIs {
		u, err := ParseURI(s)
		if err != nil {
			return err
		}
		uris = append(uris, u)
	}
	start := time.Now()
	var (
		release func()
		what    string
	)
	if cfg.IdleConnections > 0 {
		conns, err := openIdle(ctx, cfg, uris, out)
		release = func() { closeIdle(conns) }
		if err != nil {
			release()
			return err
		}
		what = fmt.Sprintf("%d connections open", len(conns))
	} else {
		c, err := declareIdleQueues(ctx, cfg, uris[0], out)
		if err != nil {
			return err
		}
		release = func() { closeIdle([]*conn{c}) }
		what = fmt.Sprintf("%d queues declared", cfg.IdleQueues)
	}
	defer release()
	fmt.Fprintf(out, "idle: ready, %s in %.1f s\n", what, time.Since(start).Seconds())
	var limit <-chan time.Time
	if cfg.Time > 0 {
		t := time.NewTimer(time.Duration(cfg.Time) * time.Second)
		defer t.Stop()
		limit = t.C
	}
	select {
	case <-ctx.Done():
	case <-limit:
	}
	fmt.Fprintf(out, "idle: closing\n")
	return nil
}

// openIdle opens cfg.IdleConnections connections, paced and a few at a time.
func openIdle(ctx context.Context, cfg *Config, uris []URI, out io.Writer) ([]*conn, error) {
	n := cfg.IdleConnections
	conns := make([]*conn, n)
	lim := newLimiter(cfg.ConnectionRate)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		firstEr error
	)
	sem := make(chan struct{}, idleDialers)
	lastReport := time.Now()
	for i := 0; i < n; {
		k := lim.take(n-i, ctx.Done())
		if k == 0 {
			break
		}
		for range k {
			mu.Lock()
			failed := firstEr != nil
			mu.Unlock()
			if failed {
				break
			}
			sem <- struct{}{}
			wg.Add(1)
			go func(i int) {
				defer func() { <-sem; wg.Done() }()
				c, err := dial(ctx, dialOptions{uri: uris[i%len(uris)], readBuf: 512, name: fmt.Sprintf("%s-idle-%d", cfg.ID, i)})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					if firstEr == nil {
						firstEr = fmt.Errorf("idle connection %d: %w", i, err)
					}
					return
				}
				c.r = nil // nothing is read from an idle connection; free the buffer
				conns[i] = c
			}(i)
			i++
		}
		if time.Since(lastReport) > 5*time.Second {
			lastReport = time.Now()
			fmt.Fprintf(out, "idle: %d/%d connections\n", i, n)
		}
		mu.Lock()
		failed := firstEr != nil
		mu.Unlock()
		if failed {
			break
		}
	}
	wg.Wait()
	var open []*conn
	for _, c := range conns {
		if c != nil {
			open = append(open, c)
		}
	}
	if firstEr == nil && ctx.Err() != nil {
		firstEr = ctx.Err()
	}
	return open, firstEr
}

// declareIdleQueues declares cfg.IdleQueues exclusive queues on one
// connection, pipelining the declarations in paced batches.
func declareIdleQueues(ctx context.Context, cfg *Config, u URI, out io.Writer) (*conn, error) {
	c, err := dial(ctx, dialOptions{uri: u, readBuf: 0, name: cfg.ID + "-idle-queues"})
	if err != nil {
		return nil, err
	}
	pattern := cfg.QueuePattern
	if pattern == "" {
		pattern = "perf-idle-%d"
	}
	from := max(cfg.QueuePatternFrom, 1)
	lim := newLimiter(cfg.ConnectionRate)
	var buf []byte
	lastReport := time.Now()
	for i := 0; i < cfg.IdleQueues; {
		k := lim.take(min(cfg.IdleQueues-i, 256), ctx.Done())
		if k == 0 {
			closeIdle([]*conn{c})
			return nil, ctx.Err()
		}
		buf = buf[:0]
		for j := range k {
			buf = amqp.AppendMethodFrame(buf, perfChannel, &amqp.QueueDeclare{
				Queue: fmt.Sprintf(pattern, from+i+j), Exclusive: true, Arguments: amqp.Table(cfg.QueueArgs),
			})
		}
		if err := c.write(buf); err != nil {
			closeIdle([]*conn{c})
			return nil, err
		}
		for range k {
			if _, err := c.await(perfChannel, amqp.ClassQueue, amqp.MethodQueueDeclareOk); err != nil {
				closeIdle([]*conn{c})
				return nil, err
			}
		}
		i += k
		if time.Since(lastReport) > 5*time.Second {
			lastReport = time.Now()
			fmt.Fprintf(out, "idle: %d/%d queues\n", i, cfg.IdleQueues)
		}
	}
	return c, nil
}

// closeIdle closes connections properly, a few at a time: connection.close,
// wait (bounded) for close-ok, close the socket. A broker that is slow to
// tear down thousands of connections is not flooded with resets.
func closeIdle(conns []*conn) {
	work := make(chan *conn)
	var wg sync.WaitGroup
	for range min(len(conns), 64) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				closeAndWait(c)
			}
		}()
	}
	for _, c := range conns {
		work <- c
	}
	close(work)
	wg.Wait()
}
