// Package segment is Warren's durable message store: one append-only,
// CRC-checked log shared by every queue, cut into segment files, with
// group commit, reference-counted space reclamation, compaction,
// checkpoints and crash recovery.
//
// # Model
//
// The log is generic: every record carries a type, an owner (a queue
// incarnation's id; later also a replicated queue's Raft group) and a
// sequence (the queue position; later a Raft index). A message body is
// written once (WriteMessage or Publish) and referenced by one enqueue
// record per durable queue that holds it (Enqueue or Publish). Ack,
// Delivered and DeleteQueue append small records that cancel or annotate
// enqueues. Nothing is ever rewritten in place.
//
// Callers name queues by string; the store maps each name to an owner id
// (an owner record names it in every segment that has its entries), and
// DeleteQueue retires the id, so a new queue of the same name starts empty.
// Within a queue, seqs must grow: Enqueue refuses a seq at or below the
// queue's last one (NextSeq and Recovery.NextSeq say where to continue after
// a restart). (queue, seq) thus names one message for the queue's lifetime.
//
// # Typical use by the broker
//
//	st, rec, err := segment.Open(dir, segment.Options{OnSync: confirmUpTo})
//	// rebuild queues from rec.Queues (Entry: seq, ref, size, redelivered,
//	// expires, priority);
//	// continue each queue's seqs at rec.NextSeq[name].
//	ref, lsn, err := st.Publish(msg, []segment.Target{{Queue: "q", Seq: 7, Durable: true}})
//	// confirm to the publisher once OnSync(x) reports x >= lsn
//	st.Delivered("q", 7)          // when handed to a consumer
//	st.Ack("q", 7)                // when acked (no need to wait for it)
//	m, err := st.Read(ref)        // to page a body back in
//
// Transient messages paged out of memory use WriteMessage(m, false), which
// forces no fsync and is never recovered, and Release(ref) when done.
//
// # Entry meta: expiry and priority
//
// Enqueue and Publish's Targets take an EntryMeta (expiry in unix ms, 0 for
// none; priority 0-255) that a durable enqueue record carries: the priority
// in a header byte that older records have as zero, the expiry as 8 more
// payload bytes behind a flag, so an entry without expiry costs nothing
// extra on disk and one with expiry 8 bytes. The store does not interpret
// it (expiry is the broker's business) and the running index does not keep
// it, so a live entry still costs one or two bits there; compaction reads it
// back from the record it copies. Recovery returns it in each Entry (32
// bytes); during replay a live entry takes 40 bytes instead of 32, and a
// checkpoint one byte more for a priority and a varint for an expiry.
//
// # Durability, LSNs and OnSync
//
// Every write returns an LSN: the record's end position, segment id in the
// high 32 bits and offset in the low 32, so LSNs grow with the log. Writers
// only append to an in-memory buffer under a mutex (no system call per
// record). One syncer goroutine repeatedly takes the whole buffer, writes it
// (one write call per buffer chunk, 1 MiB), fdatasyncs the files it touched
// (and the directory when it created a segment) and then publishes the new
// durable LSN: Synced, Wait and Flush see it, and OnSync(lsn) is called,
// meaning every record with LSN <= lsn is on disk. Whatever arrives while an
// fsync runs is covered by the next one: that is the group commit.
// Durable messages and enqueues ask for a commit at once; acks, deliveries
// and queue deletions ride along or are synced within Options.LazySync;
// transient bodies are written when 1 MiB accumulates and never force an
// fsync (but are kept in memory until some fsync covers them, so that a
// failed fsync can rewrite them).
//
// # Threading and blocking
//
// All methods are safe for concurrent use. WriteMessage, Publish and durable
// Enqueue block while more than Options.MaxBuffer bytes are not yet durable
// (backpressure). Flush, Wait, Compact and Close block on I/O. Ack,
// Delivered, DeleteQueue, Release, non-durable Enqueue, Synced, NextSeq,
// Stats and Err never block on I/O (they take the store mutex briefly).
// Read does at most one or two preads without holding the mutex. OnSync runs
// on the syncer goroutine: it must be quick and must not call blocking
// methods.
//
// # Space
//
// Each segment counts what keeps it: live enqueue records, live references
// to its bodies (a body is referenced once per queue holding it),
// transient bodies awaiting Release. Per message the store keeps no map
// entry: each queue has "runs" (a seq range with one bitmap bit per entry,
// plus a delivered bit, and the segment holding those records), typically
// one per segment the queue spans. A segment file is deleted once nothing
// keeps it and every segment its ack, delivery, deletion and compaction
// records point at is gone, so an ack never disappears before the enqueue
// it cancels and recovery never resurrects an acked message. Segments are
// thus freed in any order, not only oldest first.
//
// Compact (and, unless Options.NoAutoCompact, the background after each
// rollover) rewrites the still-needed records of sealed segments that are
// less than Options.CompactBelow live (default 10%) to the head, writes a
// marker, and deletes the old file once the copies are durable. Refs into
// a compacted segment keep working through a small forwarding table until
// the entries using them are acked; Recovery hands out the new Refs.
// Segments holding transient bodies or bodies referenced from other
// segments are not compacted.
//
// # Recovery and checkpoints
//
// A checkpoint file holds the live index (per queue: seq, ref, size,
// enqueue segment, redelivered, expiry, priority; per segment:
// dependencies and counts) and
// the log position it covers. It is written at Close, after an Open that had
// to replay much, and every Options.CheckpointEvery bytes of log (in the
// background, by loading the previous checkpoint and replaying the log
// after it). Open loads the newest valid checkpoint and replays only the
// segments after its position, reading bodies only there. It cuts a torn or
// corrupt tail off the last segment (truncating the file, then appending
// after it), skips the rest of an older segment after a corrupt record
// (logging it) and never applies a record whose CRC fails. A VERSION file
// holds the schema version; Open refuses any other.
//
// # Failures
//
// A failed write or fsync (ENOSPC, EIO) never touches what is durable:
// Synced does not advance, the bytes since the last good fsync stay in
// memory, files are truncated back to their durable size and the syncer
// retries with backoff. Meanwhile Err reports the error, new writes fail
// fast, and Flush/Wait return it; once a retry succeeds everything resumes,
// including the confirms of what was written before the failure.
//
// Segment files are preallocated: once the head is half full, a background
// goroutine zero-fills and fsyncs the next segment's file, so that the
// syncer's fdatasyncs overwrite allocated blocks instead of growing the
// file (which costs a journal commit per fsync on ext4 and XFS). Recovery
// treats an all-zero record header as the end of a segment; sealed segments
// are trimmed to their used size.
//
// A segment into which WriteMessage wrote a durable body is kept until the
// head has moved two segments on, so that a body whose Enqueue comes after
// a rollover is still there (Enqueue would fail with store.ErrReclaimed
// otherwise); Publish has no such window.
//
// # On disk
//
// A directory holds VERSION, LOCK (flock), NNNNNNNNNN.seg segment files,
// checkpoint-<LSN>.ckp files and, transiently, prealloc-N.tmp. The byte
// layouts are documented in record.go and checkpoint.go.
package segment
