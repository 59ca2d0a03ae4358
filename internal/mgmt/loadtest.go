package mgmt

// Load tests: the Warren-specific /api/warren/load-tests API behind the
// UI's Load test page. A run is warren perf's load generator (internal/perf)
// running as goroutines inside this process, against this node with the
// caller's own credentials, or against a URI. A stress test must not take
// the node down, so every run is bounded (loadLimits: duration, rate,
// bytes/s, connections, queues, message size), one runs at a time, none
// starts during a resource alarm, and only the last runs are kept.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/warrenmq/warren/internal/broker"
	"github.com/warrenmq/warren/internal/perf"
)

// loadLimits are the hard caps of a load test; a request beyond one is
// refused with 400 and the cap in the reason.
type loadLimits struct {
	MaxConcurrent    int     `json:"max_concurrent"`     // runs at a time
	MaxDurationS     int     `json:"max_duration_s"`     // every run has a duration (-z), at most this
	DefaultDurationS int     `json:"default_duration_s"` // when none is given
	MaxRate          float64 `json:"max_rate"`           // msg/s, all producers together
	MaxBytesRate     float64 `json:"max_bytes_rate"`     // bytes/s published (rate × size)
	MaxProducers     int     `json:"max_producers"`
	MaxConsumers     int     `json:"max_consumers"`
	MaxConnections   int     `json:"max_connections"` // producers + consumers
	MaxQueues        int     `json:"max_queues"`      // --queue-pattern range or -u list
	MaxSize          int     `json:"max_size"`        // message bytes
	MaxChurn         int     `json:"max_connection_churn"`
	KeptRuns         int     `json:"kept_runs"` // finished runs kept in memory
}

var defaultLoadLimits = loadLimits{
	MaxConcurrent: 1, MaxDurationS: 600, DefaultDurationS: 60,
	MaxRate: 50_000, MaxBytesRate: 64 << 20,
	MaxProducers: 200, MaxConsumers: 100, MaxConnections: 250, MaxQueues: 1000,
	MaxSize: 1 << 20, MaxChurn: 10_000, KeptRuns: 20,
}

const (
	// setupGrace bounds connecting and declaring before the measured
	// duration starts, and the drain after it: the run's context ends at
	// duration + setupGrace whatever perf does.
	setupGrace = 60 * time.Second
	// stopWait is how long a stop request waits for the run to close its
	// connections before answering.
	stopWait  = 15 * time.Second
	outputMax = 40 // lines of perf's output kept per run
)

// loadTests owns the runs.
type loadTests struct {
	s      *Server
	lim    loadLimits
	ctx    context.Context // ends when the server stops
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.Mutex
	seq  int
	runs []*loadRun // oldest first
}

func newLoadTests(s *Server) *loadTests {
	ctx, cancel := context.WithCancel(context.Background())
	return &loadTests{s: s, lim: defaultLoadLimits, ctx: ctx, cancel: cancel}
}

// close stops every run and waits for them (Server.Run calls it when its
// context ends).
func (lt *loadTests) close() {
	// Under mu, so that launch either sees the end or is waited for.
	lt.mu.Lock()
	lt.cancel()
	lt.mu.Unlock()
	lt.wg.Wait()
}

// loadRequest is the body of POST /api/warren/load-tests. Every field is
// optional; fields override the preset, args override both.
type loadRequest struct {
	Preset       string   `json:"preset,omitempty"`
	Producers    *int     `json:"producers,omitempty"`     // -x
	Consumers    *int     `json:"consumers,omitempty"`     // -y
	Size         *int     `json:"size,omitempty"`          // -s bytes
	Rate         *float64 `json:"rate,omitempty"`          // -r msg/s per producer
	ConsumerRate *float64 `json:"consumer_rate,omitempty"` // -R msg/s per consumer
	Duration     *int     `json:"duration,omitempty"`      // -z seconds
	Confirm      *int     `json:"confirm,omitempty"`       // -c window
	Prefetch     *int     `json:"prefetch,omitempty"`      // -q
	AutoAck      *bool    `json:"autoack,omitempty"`       // -a
	Persistent   *bool    `json:"persistent,omitempty"`    // -f persistent
	Queue        string   `json:"queue,omitempty"`         // -u, or the pattern prefix with queue_count
	QueueCount   *int     `json:"queue_count,omitempty"`   // > 1: --queue-pattern QUEUE-%d 1..N
	Args         []string `json:"args,omitempty"`          // more PerfTest flags
	URI          string   `json:"uri,omitempty"`           // target; default this node
	Vhost        string   `json:"vhost,omitempty"`         // on this node; default "/"
}

// loadSample is one of perf's samples with what the node looked like at
// that moment.
type loadSample struct {
	perf.Sample
	// QueueMessages is the depth (ready + unacked) of the run's queues on
	// this node; null when the target is elsewhere.
	QueueMessages *int64 `json:"queue_messages"`
	QueueReady    *int64 `json:"queue_messages_ready"`
	QueueUnacked  *int64 `json:"queue_messages_unacknowledged"`
	MemUsed       int64  `json:"mem_used"` // this node's memory, bytes
	Alarm         string `json:"alarm,omitempty"`
}

// loadRun is one run.
type loadRun struct {
	id          string
	req         loadRequest // as asked, uri password masked
	preset      string
	args        []string
	commandLine string
	target      string // masked
	thisNode    bool
	vhost       string
	user        string
	durationS   int
	rateLimit   float64
	rateCapped  bool
	producers   int
	consumers   int
	size        int
	confirm     int
	names       []string // queues named by -u or --queue-pattern
	cancel      context.CancelFunc
	done        chan struct{}
	stopReq     atomic.Bool
	out         *tailWriter

	mu      sync.Mutex
	state   string // running, finished, stopped, failed
	start   time.Time
	end     time.Time
	samples []loadSample
	queues  []string // found on this node: named, and server-named ones the run consumes from
	report  *perf.Report
	err     string
}

// loadRunJSON is a run in the API.
type loadRunJSON struct {
	ID          string          `json:"id"`
	State       string          `json:"state"`
	Preset      string          `json:"preset"`
	Params      loadRequest     `json:"params"`
	Args        []string        `json:"args"`
	CommandLine string          `json:"command_line"`
	Target      string          `json:"target"`
	ThisNode    bool            `json:"this_node"`
	Vhost       string          `json:"vhost"`
	User        string          `json:"user"`
	DurationS   int             `json:"duration_s"`
	RateLimit   float64         `json:"rate_limit"`  // msg/s cap over all producers, 0 without producers
	RateCapped  bool            `json:"rate_capped"` // an unlimited rate was capped to rate_limit
	Producers   int             `json:"producers"`
	Consumers   int             `json:"consumers"`
	Size        int             `json:"size"`
	Confirm     int             `json:"confirm"` // -c: -1 without confirms
	StartTime   time.Time       `json:"start_time"`
	EndTime     *time.Time      `json:"end_time"`
	ElapsedS    float64         `json:"elapsed_s"`
	Error       string          `json:"error,omitempty"`
	Summary     *perf.Summary   `json:"summary"`
	ConnChurn   *perf.ConnChurn `json:"connection_churn,omitempty"`
	LastSample  *loadSample     `json:"last_sample"`
	SampleCount int             `json:"sample_count"`
	Queues      []string        `json:"queues"`
	MemLimit    int64           `json:"mem_limit,omitempty"` // the memory alarm's threshold, bytes
	Reports     *loadReports    `json:"reports"`
	// Only in GET /api/warren/load-tests/{id}:
	Samples     *[]loadSample `json:"samples,omitempty"`      // a pointer: [] when there are none yet
	SamplesFrom int           `json:"samples_from,omitempty"` // index of samples[0] (?since=)
	Output      []string      `json:"output,omitempty"`       // perf's last lines
}

type loadReports struct {
	JSON string `json:"json"`
	HTML string `json:"html"`
}

// loadTestRoutes registers the API; routes.go calls it.
func (s *Server) loadTestRoutes() {
	h := s.handle
	lt := s.lt
	h("GET /api/warren/load-tests", accMgmt, adminOnly(lt.list))
	h("POST /api/warren/load-tests", accMgmt, adminOnly(lt.start))
	h("GET /api/warren/load-tests/presets", accMgmt, adminOnly(lt.presets))
	h("GET /api/warren/load-tests/limits", accMgmt, adminOnly(func(w http.ResponseWriter, r *http.Request, c *caller) error {
		writeJSON(w, http.StatusOK, lt.lim)
		return nil
	}))
	h("GET /api/warren/load-tests/{id}", accMgmt, adminOnly(lt.get))
	h("DELETE /api/warren/load-tests/{id}", accMgmt, adminOnly(lt.delete))
	h("POST /api/warren/load-tests/{id}/stop", accMgmt, adminOnly(lt.stop))
	h("GET /api/warren/load-tests/{id}/report.json", accMgmt, adminOnly(lt.reportJSON))
	h("GET /api/warren/load-tests/{id}/report.html", accMgmt, adminOnly(lt.reportHTML))
}

// adminOnly refuses non-administrators with 403 (not RabbitMQ's usual
// 401: the caller is logged in, just not allowed), in RabbitMQ's
// not_authorised shape.
func adminOnly(e endpoint) endpoint {
	return func(w http.ResponseWriter, r *http.Request, c *caller) error {
		if !c.admin() {
			return &apiError{http.StatusForbidden, "not_authorised", "Not administrator user: load tests are for administrators"}
		}
		return e(w, r, c)
	}
}

func (lt *loadTests) list(w http.ResponseWriter, r *http.Request, c *caller) error {
	lt.mu.Lock()
	runs := slices.Clone(lt.runs)
	lt.mu.Unlock()
	out := make([]loadRunJSON, 0, len(runs))
	for i := len(runs) - 1; i >= 0; i-- { // newest first
		out = append(out, lt.view(runs[i], false, 0))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type presetJSON struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Args        []string `json:"args"`
	Allowed     bool     `json:"allowed"`
	Reason      string   `json:"reason,omitempty"` // why not allowed
}

// presets lists perf's presets, each checked against the caps.
func (lt *loadTests) presets(w http.ResponseWriter, r *http.Request, c *caller) error {
	out := []presetJSON{}
	for _, p := range perf.Presets() {
		pj := presetJSON{Name: p.Name, Description: p.Description, Args: p.Args, Allowed: true}
		// Checked against the caps only: any target will do.
		if _, err := lt.plan(loadRequest{Preset: p.Name, URI: "amqp://localhost"}, "", ""); err != nil {
			pj.Allowed, pj.Reason = false, err.Error()
		}
		out = append(out, pj)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (lt *loadTests) find(r *http.Request) (*loadRun, error) {
	id := pathValue(r, "id")
	lt.mu.Lock()
	defer lt.mu.Unlock()
	for _, run := range lt.runs {
		if run.id == id {
			return run, nil
		}
	}
	return nil, &apiError{http.StatusNotFound, "Object Not Found", "no load test " + strconv.Quote(id) + " (only the last runs are kept)"}
}

func (lt *loadTests) get(w http.ResponseWriter, r *http.Request, c *caller) error {
	run, err := lt.find(r)
	if err != nil {
		return err
	}
	since := 0
	if v := r.URL.Query().Get("since"); v != "" {
		if since, err = strconv.Atoi(v); err != nil || since < 0 {
			return badRequest("since must be a sample index (0 or more), not %q", v)
		}
	}
	writeJSON(w, http.StatusOK, lt.view(run, true, since))
	return nil
}

func (lt *loadTests) stop(w http.ResponseWriter, r *http.Request, c *caller) error {
	run, err := lt.find(r)
	if err != nil {
		return err
	}
	run.stop()
	writeJSON(w, http.StatusOK, lt.view(run, false, 0))
	return nil
}

// delete stops a running run; a finished one is forgotten.
func (lt *loadTests) delete(w http.ResponseWriter, r *http.Request, c *caller) error {
	run, err := lt.find(r)
	if err != nil {
		return err
	}
	select {
	case <-run.done:
		lt.mu.Lock()
		lt.runs = slices.DeleteFunc(lt.runs, func(x *loadRun) bool { return x == run })
		lt.mu.Unlock()
	default:
		run.stop()
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// finishedReport is the run's report once it has ended.
func (lt *loadTests) finishedReport(r *http.Request) (*loadRun, *perf.Report, error) {
	run, err := lt.find(r)
	if err != nil {
		return nil, nil, err
	}
	select {
	case <-run.done:
	default:
		return nil, nil, &apiError{http.StatusConflict, "conflict", "load test " + run.id + " is still running: stop it or wait for its end"}
	}
	run.mu.Lock()
	rep := run.report
	run.mu.Unlock()
	if rep == nil {
		return nil, nil, &apiError{http.StatusNotFound, "Object Not Found", "load test " + run.id + " has no report: it failed before measuring"}
	}
	return run, rep, nil
}

func (lt *loadTests) reportJSON(w http.ResponseWriter, r *http.Request, c *caller) error {
	run, rep, err := lt.finishedReport(r)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := rep.WriteJSON(&b); err != nil {
		return err
	}
	attachment(w, "application/json", "warren-perf-"+run.id+".json")
	_, err = w.Write(b.Bytes())
	return err
}

func (lt *loadTests) reportHTML(w http.ResponseWriter, r *http.Request, c *caller) error {
	run, rep, err := lt.finishedReport(r)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := perf.WriteHTML(&b, rep); err != nil {
		return err
	}
	attachment(w, "text/html; charset=utf-8", "warren-perf-"+run.id+".html")
	_, err = w.Write(b.Bytes())
	return err
}

func attachment(w http.ResponseWriter, ctype, name string) {
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
}

// --- starting a run ---

// plan is a checked run, ready to start.
type plan struct {
	cfg        *perf.Config
	args       []string
	target     string // masked
	thisNode   bool
	vhost      string
	rateLimit  float64
	rateCapped bool
	names      []string
}

func (lt *loadTests) start(w http.ResponseWriter, r *http.Request, c *caller) error {
	var req loadRequest
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil && !errors.Is(err, errEOF) {
		return badRequest("load test request: %v", err)
	}
	if reason := lt.alarmReason(); reason != "" {
		return &apiError{http.StatusPreconditionFailed, "precondition_failed", reason}
	}
	user, pass, _ := r.BasicAuth()
	p, err := lt.plan(req, user, pass)
	if err != nil {
		return err
	}
	run, err := lt.launch(req, p, user)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/warren/load-tests/"+run.id)
	writeJSON(w, http.StatusCreated, lt.view(run, false, 0))
	return nil
}

// alarmReason names an active resource alarm, or is "".
func (lt *loadTests) alarmReason() string {
	var names []string
	for _, a := range lt.s.alarms() {
		names = append(names, a.Resource)
	}
	if len(names) == 0 {
		return ""
	}
	return fmt.Sprintf("%s alarm in effect on %s: publishers are blocked, so no load test may start until it clears",
		strings.Join(names, " and "), lt.s.cfg.NodeName)
}

// loadError is a refused request: 400 with the reason.
func loadError(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, "bad_request", sprintf(format, args...)}
}

// flagsOf turns the request's fields into PerfTest flags.
func flagsOf(req loadRequest) []string {
	var a []string
	itoa := strconv.Itoa
	ftoa := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
	if req.Preset != "" {
		a = append(a, "--preset", req.Preset)
	}
	if req.Producers != nil {
		a = append(a, "-x", itoa(*req.Producers))
	}
	if req.Consumers != nil {
		a = append(a, "-y", itoa(*req.Consumers))
	}
	if req.Size != nil {
		a = append(a, "-s", itoa(*req.Size))
	}
	if req.Rate != nil {
		a = append(a, "-r", ftoa(*req.Rate))
	}
	if req.ConsumerRate != nil {
		a = append(a, "-R", ftoa(*req.ConsumerRate))
	}
	if req.Duration != nil {
		a = append(a, "-z", itoa(*req.Duration))
	}
	if req.Confirm != nil {
		a = append(a, "-c", itoa(*req.Confirm))
	}
	if req.Prefetch != nil {
		a = append(a, "-q", itoa(*req.Prefetch))
	}
	if req.AutoAck != nil {
		a = append(a, "--autoack="+strconv.FormatBool(*req.AutoAck))
	}
	if req.Persistent != nil && *req.Persistent {
		a = append(a, "-f", "persistent")
	}
	n := 0
	if req.QueueCount != nil {
		n = *req.QueueCount
	}
	switch {
	case n > 1:
		prefix := req.Queue
		if prefix == "" {
			prefix = "perf-test"
		}
		// -u "" clears a preset's queue: the two are exclusive.
		a = append(a, "-u", "", "--queue-pattern", strings.ReplaceAll(prefix, "%", "%%")+"-%d",
			"--queue-pattern-from", "1", "--queue-pattern-to", itoa(n))
	case req.Queue != "":
		a = append(a, "-u", req.Queue, "--queue-pattern", "", "--queue-pattern-from", "-1", "--queue-pattern-to", "-1")
	}
	return append(a, req.Args...)
}

// plan builds and checks the run's configuration against the caps.
func (lt *loadTests) plan(req loadRequest, user, pass string) (*plan, error) {
	lim := lt.lim
	if req.QueueCount != nil && (*req.QueueCount < 0 || *req.QueueCount > lim.MaxQueues) {
		return nil, loadError("queue_count must be within 0..%d", lim.MaxQueues)
	}
	if req.Duration != nil && (*req.Duration < 1 || *req.Duration > lim.MaxDurationS) {
		return nil, loadError("duration must be within 1..%d seconds: every load test ends", lim.MaxDurationS)
	}
	if req.Preset != "" {
		if _, ok := perf.PresetArgs(req.Preset); !ok {
			var names []string
			for _, p := range perf.Presets() {
				names = append(names, p.Name)
			}
			return nil, loadError("no preset %q; presets: %s", req.Preset, strings.Join(names, ", "))
		}
	}
	p := &plan{}
	// The target: this node's AMQP listener with the caller's credentials,
	// or the given URI.
	if req.URI != "" {
		u, err := perf.ParseURI(req.URI)
		if err != nil {
			return nil, loadError("%v", err)
		}
		if req.Vhost != "" {
			return nil, loadError("give the vhost in the uri, not as vhost")
		}
		p.vhost = u.Vhost
		p.target = req.URI
	} else {
		addr := lt.amqpAddr()
		if addr == "" {
			return nil, loadError("this node has no plain AMQP listener to test: give a uri")
		}
		p.vhost = req.Vhost
		if p.vhost == "" {
			p.vhost = "/"
		}
		if lt.s.cfg.Broker.Vhost(p.vhost) == nil {
			return nil, loadError("no vhost %q on this node", p.vhost)
		}
		p.thisNode = true
		p.target = (&url.URL{Scheme: "amqp", User: url.UserPassword(user, pass), Host: addr,
			Path: "/" + p.vhost, RawPath: "/" + url.PathEscape(p.vhost)}).String()
	}
	real := p.target
	p.target = perf.MaskURI(real)

	args := flagsOf(req)
	for _, a := range args {
		if strings.HasPrefix(a, "--help") || a == "-?" {
			return nil, loadError("--help is not available here; see warren perf --help")
		}
	}
	cfg, err := perf.ParseArgs(args)
	if err != nil {
		return nil, loadError("%v", err)
	}
	// Flags that write files, measure other processes, hold connections
	// open without traffic or run elsewhere have no place in a run started
	// over HTTP.
	switch {
	case len(cfg.URIs) != 1 || cfg.URIs[0] != "amqp://localhost":
		return nil, loadError("give the target as uri, not as --uri/-h/-H in args")
	case cfg.JSONFile != "" || cfg.HTMLFile != "" || cfg.CPUProfile != "":
		return nil, loadError("--json, --html and --cpuprofile write files on the server: download the reports instead")
	case cfg.BrokerPID != 0 || cfg.ComparePID != 0:
		return nil, loadError("--broker-pid and --compare-pid are not available here")
	case cfg.Compare != "":
		return nil, loadError("compare mode is for the command line (warren perf --compare)")
	case cfg.IdleConnections > 0 || cfg.IdleQueues > 0:
		return nil, loadError("the idle-connection and idle-queue modes are for the command line")
	case cfg.ListPresets:
		return nil, loadError("--list-presets is not a run: GET /api/warren/load-tests/presets")
	}
	// Caps.
	nq := len(cfg.Queues)
	if cfg.QueuePattern != "" && cfg.QueuePatternFrom >= 0 {
		nq = cfg.QueuePatternTo - cfg.QueuePatternFrom + 1
	}
	switch {
	case cfg.Producers > lim.MaxProducers:
		return nil, loadError("%d producers exceed the load test cap of %d", cfg.Producers, lim.MaxProducers)
	case cfg.Consumers > lim.MaxConsumers:
		return nil, loadError("%d consumers exceed the load test cap of %d", cfg.Consumers, lim.MaxConsumers)
	case cfg.Producers+cfg.Consumers > lim.MaxConnections:
		return nil, loadError("%d connections (producers + consumers) exceed the load test cap of %d", cfg.Producers+cfg.Consumers, lim.MaxConnections)
	case nq > lim.MaxQueues:
		return nil, loadError("%d queues exceed the load test cap of %d", nq, lim.MaxQueues)
	case cfg.Size > lim.MaxSize:
		return nil, loadError("message size %d bytes exceeds the load test cap of %d", cfg.Size, lim.MaxSize)
	case cfg.ConnectionChurn > lim.MaxChurn:
		return nil, loadError("%d churned connections exceed the load test cap of %d", cfg.ConnectionChurn, lim.MaxChurn)
	case cfg.Time > lim.MaxDurationS:
		return nil, loadError("duration %d s exceeds the load test cap of %d s", cfg.Time, lim.MaxDurationS)
	case cfg.Interval > 10:
		return nil, loadError("--interval must be within 1..10 seconds")
	}
	// Every run ends: a run without -z gets the default duration, or the
	// cap when it ends by message count.
	if cfg.Time == 0 {
		d := lim.DefaultDurationS
		if cfg.ProducerMessages > 0 || cfg.ConsumerMessages > 0 || cfg.ConnectionChurn > 0 {
			d = lim.MaxDurationS
		}
		args = append(args, "-z", strconv.Itoa(d))
	}
	// Rate: all producers together within the msg/s and bytes/s caps; an
	// unlimited rate is capped.
	if cfg.Producers > 0 && cfg.ConnectionChurn == 0 {
		capRate := min(lim.MaxRate, lim.MaxBytesRate/float64(max(cfg.Size, 1)))
		capRate = float64(int64(capRate)) // whole msg/s read better
		total := cfg.ProducerRate * float64(cfg.Producers)
		switch {
		case cfg.ProducerRate == 0:
			per := math.Floor(capRate/float64(cfg.Producers)*100) / 100
			args = append(args, "-r", strconv.FormatFloat(per, 'f', -1, 64))
			p.rateLimit, p.rateCapped = capRate, true
		case total > capRate:
			return nil, loadError("%s msg/s × %d producers = %s msg/s of %d bytes exceeds the load test cap of %s msg/s (%s msg/s, %s MiB/s)",
				fmtNum(cfg.ProducerRate), cfg.Producers, fmtNum(total), cfg.Size, fmtNum(capRate), fmtNum(lim.MaxRate), fmtNum(lim.MaxBytesRate/(1<<20)))
		default:
			p.rateLimit = total
		}
	}
	// Reparse with the bounds and the target in the command line, so the
	// report shows what ran.
	args = append(args, "--uri", p.target)
	cfg, err = perf.ParseArgs(args)
	if err != nil {
		return nil, loadError("%v", err)
	}
	cfg.URIs = []string{real}
	p.cfg, p.args = cfg, args
	p.names = slices.Clone(cfg.Queues)
	if cfg.QueuePattern != "" && cfg.QueuePatternFrom >= 0 {
		for i := cfg.QueuePatternFrom; i <= cfg.QueuePatternTo; i++ {
			p.names = append(p.names, fmt.Sprintf(cfg.QueuePattern, i))
		}
	}
	return p, nil
}

func fmtNum(f float64) string {
	if f == float64(int64(f)) {
		s := strconv.FormatInt(int64(f), 10)
		// 50000 → 50,000
		var b strings.Builder
		for i, c := range s {
			if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
				b.WriteByte(',')
			}
			b.WriteRune(c)
		}
		return b.String()
	}
	return strconv.FormatFloat(f, 'f', 2, 64)
}

// amqpAddr is this node's AMQP listener as a client dials it: a wildcard
// address becomes loopback.
func (lt *loadTests) amqpAddr() string {
	if lt.s.cfg.Listeners == nil {
		return ""
	}
	addr := lt.s.cfg.Listeners()["amqp"]
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// launch registers the run and starts it, unless one is running.
func (lt *loadTests) launch(req loadRequest, p *plan, user string) (*loadRun, error) {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	if lt.ctx.Err() != nil {
		return nil, &apiError{http.StatusServiceUnavailable, "unavailable", "the server is shutting down"}
	}
	running := 0
	var busy string
	for _, r := range lt.runs {
		select {
		case <-r.done:
		default:
			running++
			busy = r.id
		}
	}
	if running >= lt.lim.MaxConcurrent {
		return nil, &apiError{http.StatusConflict, "conflict",
			fmt.Sprintf("load test %s is running: stop it first (at most %d at a time)", busy, lt.lim.MaxConcurrent)}
	}
	lt.seq++
	var rnd [2]byte
	_, _ = rand.Read(rnd[:])
	id := fmt.Sprintf("lt-%d-%x", lt.seq, rnd)
	// The run's ID names its connections (ID-producer-N, ID-consumer-N),
	// which is how its server-named queues are found.
	p.cfg.ID = id
	req.URI = perf.MaskURI(req.URI)
	cfg := p.cfg
	run := &loadRun{
		id: id, req: req, preset: cfg.Preset, args: p.args, target: p.target, thisNode: p.thisNode,
		vhost: p.vhost, user: user, durationS: cfg.Time, rateLimit: p.rateLimit, rateCapped: p.rateCapped,
		producers: cfg.Producers, consumers: cfg.Consumers, size: cfg.Size, confirm: cfg.Confirm, names: p.names,
		done: make(chan struct{}), out: &tailWriter{max: outputMax},
		state: "running", start: time.Now(),
	}
	run.commandLine = "warren perf " + strings.Join(quoteArgs(p.args), " ")
	ctx, cancel := context.WithTimeout(lt.ctx, time.Duration(cfg.Time)*time.Second+setupGrace)
	run.cancel = cancel
	// Keep the last runs: drop the oldest finished ones.
	for len(lt.runs) >= lt.lim.KeptRuns {
		i := slices.IndexFunc(lt.runs, func(r *loadRun) bool {
			select {
			case <-r.done:
				return true
			default:
				return false
			}
		})
		if i < 0 {
			break
		}
		lt.runs = slices.Delete(lt.runs, i, i+1)
	}
	lt.runs = append(lt.runs, run)
	lt.wg.Add(1)
	go lt.execute(ctx, run, cfg)
	lt.s.log.Info("load test started", "id", id, "by", user, "target", p.target, "args", strings.Join(p.args, " "))
	return run, nil
}

func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"%$") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return out
}

// execute runs perf and records its samples and report.
func (lt *loadTests) execute(ctx context.Context, run *loadRun, cfg *perf.Config) {
	defer lt.wg.Done()
	defer close(run.done)
	defer run.cancel()
	rep, err := perf.RunWith(ctx, cfg, run.out, func(smp perf.Sample) {
		ls := lt.nodeSample(run, smp)
		run.mu.Lock()
		run.samples = append(run.samples, ls)
		run.mu.Unlock()
	})
	run.mu.Lock()
	defer run.mu.Unlock()
	run.end = time.Now()
	run.report = rep
	switch {
	case run.stopReq.Load():
		run.state = "stopped"
	case err != nil:
		run.state, run.err = "failed", err.Error()
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		run.state, run.err = "stopped", "stopped at the load test's time limit"
	case lt.ctx.Err() != nil:
		run.state, run.err = "stopped", "stopped: the server is shutting down"
	default:
		run.state = "finished"
	}
	lt.s.log.Info("load test ended", "id", run.id, "state", run.state, "error", run.err)
}

// stop asks the run to end and waits a little for it to close its
// connections.
func (run *loadRun) stop() {
	select {
	case <-run.done:
		return
	default:
	}
	run.stopReq.Store(true)
	run.cancel()
	t := time.NewTimer(stopWait)
	defer t.Stop()
	select {
	case <-run.done:
	case <-t.C:
	}
}

// nodeSample adds this node's view to one of perf's samples: the depth of
// the run's queues, memory and alarms.
func (lt *loadTests) nodeSample(run *loadRun, smp perf.Sample) loadSample {
	st := lt.s.resources()
	ls := loadSample{Sample: smp, MemUsed: st.MemoryUsed}
	var alarms []string
	for _, a := range lt.s.alarms() {
		alarms = append(alarms, a.Resource)
	}
	ls.Alarm = strings.Join(alarms, ",")
	if !run.thisNode {
		return ls
	}
	qs := lt.runQueues(run)
	var ready, unacked int64
	names := make([]string, 0, len(qs))
	for _, q := range qs {
		i := q.Info()
		ready += int64(i.Ready)
		unacked += int64(i.Unacked)
		names = append(names, q.Name)
	}
	total := ready + unacked
	ls.QueueMessages, ls.QueueReady, ls.QueueUnacked = &total, &ready, &unacked
	run.mu.Lock()
	run.queues = names
	run.mu.Unlock()
	return ls
}

// runQueues finds the run's queues on this node: those it names, and the
// server-named ones its consumers (connections named after the run)
// consume from.
func (lt *loadTests) runQueues(run *loadRun) []*broker.Queue {
	v := lt.s.cfg.Broker.Vhost(run.vhost)
	if v == nil {
		return nil
	}
	seen := map[string]bool{}
	var out []*broker.Queue
	add := func(q *broker.Queue) {
		if q != nil && !seen[q.Name] {
			seen[q.Name] = true
			out = append(out, q)
		}
	}
	for _, n := range run.names {
		add(v.Queue(n))
	}
	if a := lt.s.cfg.AMQP; a != nil && run.consumers > 0 {
		mine := map[string]bool{}
		prefix := run.id + "-"
		for _, c := range a.Connections() {
			if n, _ := c.ClientProperties["connection_name"].(string); strings.HasPrefix(n, prefix) {
				mine[c.Name] = true
			}
		}
		if len(mine) > 0 {
			for _, k := range a.Consumers() {
				if mine[k.Channel.Connection] && k.Queue != nil && k.Queue.Vhost == v {
					add(k.Queue)
				}
			}
		}
	}
	return out
}

// view is the run's JSON; full adds the samples from index since and
// perf's output.
func (lt *loadTests) view(run *loadRun, full bool, since int) loadRunJSON {
	run.mu.Lock()
	defer run.mu.Unlock()
	j := loadRunJSON{
		ID: run.id, State: run.state, Preset: run.preset, Params: run.req, Args: run.args,
		CommandLine: run.commandLine, Target: run.target, ThisNode: run.thisNode, Vhost: run.vhost, User: run.user,
		DurationS: run.durationS, RateLimit: run.rateLimit, RateCapped: run.rateCapped,
		Producers: run.producers, Consumers: run.consumers, Size: run.size, Confirm: run.confirm,
		StartTime: run.start, Error: run.err, SampleCount: len(run.samples), Queues: run.queues,
	}
	if j.Queues == nil {
		j.Queues = []string{}
	}
	if j.Args == nil {
		j.Args = []string{}
	}
	end := time.Now()
	if !run.end.IsZero() {
		e := run.end
		j.EndTime, end = &e, e
	}
	j.ElapsedS = float64(end.Sub(run.start).Milliseconds()) / 1000
	if n := len(run.samples); n > 0 {
		last := run.samples[n-1]
		j.LastSample = &last
	}
	if run.report != nil {
		sum := run.report.Summary
		j.Summary = &sum
		j.ConnChurn = run.report.ConnChurn
		base := "/api/warren/load-tests/" + run.id
		j.Reports = &loadReports{JSON: base + "/report.json", HTML: base + "/report.html"}
	}
	if full {
		if since > len(run.samples) {
			since = len(run.samples)
		}
		smp := append([]loadSample{}, run.samples[since:]...)
		j.Samples = &smp
		j.SamplesFrom = since
		j.Output = run.out.lines()
		j.MemLimit = lt.s.resources().MemoryLimit
	}
	return j
}

// tailWriter keeps the last lines written to it.
type tailWriter struct {
	max     int
	mu      sync.Mutex
	partial []byte
	tail    []string
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.partial = append(t.partial, p...)
	for {
		i := bytes.IndexByte(t.partial, '\n')
		if i < 0 {
			break
		}
		t.tail = append(t.tail, string(t.partial[:i]))
		t.partial = t.partial[i+1:]
		if len(t.tail) > t.max {
			t.tail = t.tail[len(t.tail)-t.max:]
		}
	}
	if len(t.partial) > 4096 { // a line without end: keep it bounded
		t.partial = t.partial[:0]
	}
	return len(p), nil
}

func (t *tailWriter) lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.tail)
}
