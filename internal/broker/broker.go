// Package broker is Warren's protocol-agnostic core: virtual hosts,
// exchanges, bindings, queues, consumers and dispatch. It knows nothing of
// sockets or frames; amqpserver translates the wire into calls here.
package broker

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/warrenmq/warren/internal/store"
)

// MetaLog is where durable metadata commands are kept. Append must not
// return before the record is on disk.
type MetaLog interface {
	Append(rec []byte) error
	ReadAll() ([][]byte, error)
	Rewrite(recs [][]byte) error
}

// Config wires a Broker.
type Config struct {
	Log  *slog.Logger
	Meta MetaLog // nil: nothing is persisted
	// Store keeps persistent messages of durable queues and pages bodies
	// out of memory; Recovered is what it found at open, per queue.
	Store     MessageStore
	Recovered map[string][]store.Entry
	// QueueMemory and TotalMemory bound the message bodies kept in memory
	// by ready messages, per queue and in all; 0 takes the defaults.
	QueueMemory int64
	TotalMemory int64
	// DefaultVhost and DefaultUser (with full permissions on it) are
	// created on first start only: when there is no vhost, no user and no
	// permission, as RabbitMQ does. Deleted, they are not re-created.
	DefaultVhost string
	DefaultUser  DefaultUser
}

// Broker holds every virtual host.
type Broker struct {
	log  *slog.Logger
	meta MetaLog

	applyMu sync.Mutex // serialises Apply: one state machine, one order
	mu      sync.RWMutex
	vhosts  map[string]*Vhost

	acc access // users, permissions, parameters, policies (access.go)

	store       MessageStore // nil: messages live in memory only
	memBytes    atomic.Int64 // bodies of ready messages held in memory, all queues
	queueMemory int64
	totalMemory int64
}

// New makes a broker and replays the durable metadata, if any.
func New(cfg Config) (*Broker, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	b := &Broker{log: cfg.Log, vhosts: map[string]*Vhost{},
		queueMemory: cfg.QueueMemory, totalMemory: cfg.TotalMemory}
	if b.queueMemory <= 0 {
		b.queueMemory = DefaultQueueMemory
	}
	if b.totalMemory <= 0 {
		b.totalMemory = DefaultTotalMemory
	}
	b.acc.init()
	if cfg.Meta != nil {
		// Replay without the message store: a replayed queue deletion must
		// not delete the messages of a later queue of the same name.
		if err := b.recover(cfg.Meta); err != nil {
			return nil, err
		}
		b.meta = cfg.Meta
	}
	if cfg.Store != nil {
		b.store = cfg.Store
		b.restoreQueues(cfg.Recovered)
	}
	if b.pristine() {
		cmds := defaultCommands(cfg.DefaultVhost, cfg.DefaultUser)
		if err := b.ApplyBatch(func() ([]*Command, error) { return cmds, nil }); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// recover replays the metadata log, then rewrites it as a compact snapshot
// of what is live, so the log never grows across restarts.
func (b *Broker) recover(meta MetaLog) error {
	recs, err := meta.ReadAll()
	if err != nil {
		return fmt.Errorf("read metadata: %w", err)
	}
	for i, rec := range recs {
		var cmd Command
		if err := json.Unmarshal(rec, &cmd); err != nil {
			return fmt.Errorf("metadata record %d: %w", i, err)
		}
		if err := cmd.decodeArgs(); err != nil {
			return fmt.Errorf("metadata record %d: %w", i, err)
		}
		if cmd.Op == OpBatch {
			if err := b.replayBatch(&cmd); err != nil {
				return fmt.Errorf("metadata record %d: %w", i, err)
			}
			continue
		}
		if _, err := b.apply(&cmd, false); err != nil {
			b.log.Warn("metadata replay: command failed", "op", cmd.Op, "name", cmd.Name, "err", err)
		}
	}
	snap, err := b.snapshot()
	if err != nil {
		return err
	}
	return meta.Rewrite(snap)
}

// snapshot lists the commands that recreate every durable object.
func (b *Broker) snapshot() ([][]byte, error) {
	cmds := b.userCommands()
	for _, v := range b.Vhosts() {
		cmds = append(cmds, b.addVhostCommand(v.Name))
		xs := v.Exchanges()
		sort.Slice(xs, func(i, j int) bool { return xs[i].Name < xs[j].Name })
		for _, x := range xs {
			if x.Durable && !isBuiltinExchange(x.Name) {
				cmds = append(cmds, &Command{Op: OpDeclareExchange, Vhost: v.Name, Name: x.Name, Type: x.Kind,
					Durable: true, AutoDelete: x.AutoDelete, Internal: x.Internal, Args: x.Args})
			}
		}
		qs := v.Queues()
		sort.Slice(qs, func(i, j int) bool { return qs[i].Name < qs[j].Name })
		for _, q := range qs {
			if q.Durable && !q.Exclusive {
				cmds = append(cmds, &Command{Op: OpDeclareQueue, Vhost: v.Name, Name: q.Name,
					Durable: true, AutoDelete: q.AutoDelete, Args: q.Args})
			}
		}
		for _, x := range xs {
			for _, bd := range x.Bindings() {
				if !bd.Durable() {
					continue
				}
				cmds = append(cmds, bindCommand(OpBind, v.Name, bd))
			}
		}
	}
	cmds = append(cmds, b.accessCommands()...)
	recs := make([][]byte, 0, len(cmds))
	for _, c := range cmds {
		rec, err := c.marshal()
		if err != nil {
			return nil, err
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

func bindCommand(op Op, vhost string, bd *Binding) *Command {
	c := &Command{Op: op, Vhost: vhost, Source: bd.Source.Name, Key: bd.Key, Args: bd.Args}
	if bd.Dest.Queue != nil {
		c.DestType, c.Destination = DestQueue, bd.Dest.Queue.Name
	} else {
		c.DestType, c.Destination = DestExchange, bd.Dest.Exchange.Name
	}
	return c
}

// Synced is the highest store position known durable: publishes whose
// PublishResult.LSN is at or below it may be confirmed.
func (b *Broker) Synced() uint64 {
	if b.store == nil {
		return math.MaxUint64 // nothing waits for the disk
	}
	return b.store.Synced()
}

// MemoryBytes is the size of the message bodies held in memory by ready
// messages, across all queues.
func (b *Broker) MemoryBytes() int64 { return b.memBytes.Load() }

// Vhost returns the named virtual host or nil.
func (b *Broker) Vhost(name string) *Vhost {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.vhosts[name]
}

// Vhosts lists the virtual hosts sorted by name.
func (b *Broker) Vhosts() []*Vhost {
	b.mu.RLock()
	vs := make([]*Vhost, 0, len(b.vhosts))
	for _, v := range b.vhosts {
		vs = append(vs, v)
	}
	b.mu.RUnlock()
	sort.Slice(vs, func(i, j int) bool { return vs[i].Name < vs[j].Name })
	return vs
}
