package amqpserver

import (
	"fmt"
	"time"

	"github.com/warrenmq/warren/internal/amqp"
)

// Consumer timeout (consumer_timeout): a channel whose oldest
// unacknowledged delivery has waited longer than the timeout is closed
// with 406, as rabbit_channel's evaluate_consumer_timeout does on its
// tick, and its deliveries go back to their queues.

// consumerTimeoutTick is how often channels are checked: a fraction of
// the timeout, so a delivery is caught at most a quarter late.
func consumerTimeoutTick(timeout time.Duration) time.Duration {
	return min(max(timeout/4, 20*time.Millisecond), 15*time.Second)
}

// watchConsumerTimeouts checks every channel each tick until the server
// closes.
func (s *Server) watchConsumerTimeouts() {
	timeout := s.cfg.ConsumerTimeout
	t := time.NewTicker(consumerTimeoutTick(timeout))
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-t.C:
			for _, c := range s.openConns() {
				for _, ch := range c.chanList() {
					if ch.sess.Overdue(now, timeout) {
						ch.timeOut(timeout)
					}
				}
			}
		}
	}
}

// timeOut closes the channel from outside its connection's goroutine:
// the session is closed here (its deliveries requeued) and channel.close
// sent; the reader notices timedOut with the channel's next frame and
// treats the channel as closing from then on.
func (ch *channel) timeOut(timeout time.Duration) {
	if !ch.timedOut.CompareAndSwap(false, true) {
		return
	}
	ms := timeout.Milliseconds()
	ch.c.log.Warn("consumer timed out waiting for delivery acknowledgement; closing its channel", "channel", ch.id, "timeout_ms", ms)
	ch.sess.Close()
	ch.send(&amqp.ChannelClose{ReplyCode: amqp.ReplyPreconditionFailed,
		ReplyText: fmt.Sprintf("PRECONDITION_FAILED - delivery acknowledgement on channel %d timed out. "+
			"Timeout value used: %d ms. This timeout value can be configured, see consumers doc guide to learn more", ch.id, ms)})
}

// noticeTimeOut moves a timed-out channel to closing, on the reader's
// goroutine. It reports whether it did.
func (ch *channel) noticeTimeOut() bool {
	if ch.closing || !ch.timedOut.Load() {
		return false
	}
	ch.closing = true
	ch.state = awaitMethod
	ch.release()
	return true
}
