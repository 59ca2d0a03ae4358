package perf

import (
	"math"
	"time"
)

// limiter is a token bucket: rate tokens a second, at most burst stored.
// take sleeps on a reused timer when the bucket is empty, so a limited
// producer or consumer costs a timer wake-up per batch, never a busy loop.
// It is used by one goroutine.
type limiter struct {
	rate   float64 // tokens per second; <= 0 means unlimited
	burst  float64
	tokens float64
	last   time.Time
	timer  *time.Timer
}

// newLimiter returns a bucket for rate tokens a second holding up to 20 ms
// worth of tokens (at least one), starting with one token.
func newLimiter(rate float64) *limiter {
	if rate <= 0 {
		return &limiter{}
	}
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &limiter{rate: rate, burst: math.Max(1, rate/50), tokens: 1, last: time.Now(), timer: t}
}

// take waits until at least one token is available and removes up to
// limit of them, returning how many. It returns 0 if stop is closed first.
// An unlimited limiter returns limit at once.
func (l *limiter) take(limit int, stop <-chan struct{}) int {
	if l.rate <= 0 {
		return limit
	}
	for {
		now := time.Now()
		l.tokens = math.Min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
		l.last = now
		if l.tokens >= 1 {
			n := int(math.Min(l.tokens, float64(limit)))
			l.tokens -= float64(n)
			return n
		}
		wait := time.Duration((1 - l.tokens) / l.rate * float64(time.Second))
		l.timer.Reset(max(wait, 10*time.Microsecond))
		select {
		case <-l.timer.C:
		case <-stop:
			l.timer.Stop()
			return 0
		}
	}
}
