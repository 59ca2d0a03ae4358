package broker

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/warrenmq/warren/internal/amqp"
)

// queueConfig is what a queue's arguments and the policies matching it
// make of it: the features in effect. It changes when policies do; a
// queue holds it under q.mu.
type queueConfig struct {
	messageTTL    int64 // ms; -1 = none
	expires       int64 // ms; 0 = none
	maxLength     int64 // -1 = none
	maxBytes      int64 // -1 = none
	overflow      string
	dlx           string // dead-letter exchange; "" = none
	hasDLX        bool
	dlrk          string // dead-letter routing key
	hasDLRK       bool
	deliveryLimit int64 // -1 = none

	policy, opPolicy *Policy        // applied, nil = none
	effective        map[string]any // their merged definition (management)
}

// Overflow behaviours (x-overflow).
const (
	OverflowDropHead         = "drop-head"
	OverflowRejectPublish    = "reject-publish"
	OverflowRejectPublishDLX = "reject-publish-dlx"
)

// limited reports whether a length limit is in force.
func (c *queueConfig) limited() bool { return c.maxLength >= 0 || c.maxBytes >= 0 }

// ConfigInfo is a queue's effective configuration for management.
type ConfigInfo struct {
	Policy, OperatorPolicy string         // names, "" = none
	Effective              map[string]any // merged policy definition
}

// PolicyInfo reports the policies applied to the queue.
func (q *Queue) PolicyInfo() ConfigInfo {
	q.mu.Lock()
	defer q.mu.Unlock()
	var ci ConfigInfo
	if q.cfg.policy != nil {
		ci.Policy = q.cfg.policy.Name
	}
	if q.cfg.opPolicy != nil {
		ci.OperatorPolicy = q.cfg.opPolicy.Name
	}
	ci.Effective = q.cfg.effective
	return ci
}

// resolve computes the configuration from the queue's arguments and the
// policy and operator policy that apply, following
// rabbit_amqqueue_process:process_args_policy: numeric limits take the
// smaller of argument and policy, other keys the argument.
func resolveQueueConfig(args amqp.Table, pol, op *Policy) queueConfig {
	def := mergeDefinitions(pol, op)
	c := queueConfig{policy: pol, opPolicy: op, effective: def}
	num := func(key string, none int64) int64 {
		a, aok := asInt(args["x-"+key])
		p, pok := jsonInt(def[key])
		switch {
		case aok && pok:
			return min(a, p)
		case aok:
			return a
		case pok:
			return p
		}
		return none
	}
	str := func(key string) (string, bool) {
		if v, ok := args["x-"+key].(string); ok {
			return v, true
		}
		v, ok := def[key].(string)
		return v, ok
	}
	c.messageTTL = num("message-ttl", -1)
	c.expires = num("expires", 0)
	c.maxLength = num("max-length", -1)
	c.maxBytes = num("max-length-bytes", -1)
	c.deliveryLimit = -1
	if args["x-queue-type"] == "quorum" {
		// A quorum queue's feature: classic queues refuse the argument
		// and ignore the policy key, as in RabbitMQ.
		c.deliveryLimit = num("delivery-limit", -1)
	}
	c.overflow, _ = str("overflow")
	if c.overflow == "" {
		c.overflow = OverflowDropHead
	}
	c.dlx, c.hasDLX = str("dead-letter-exchange")
	c.dlrk, c.hasDLRK = str("dead-letter-routing-key")
	return c
}

// mergeDefinitions is rabbit_policy:merge_operator_definitions: the
// operator policy's value wins for keys only it has, and caps numeric
// limits both set.
func mergeDefinitions(pol, op *Policy) map[string]any {
	if pol == nil && op == nil {
		return nil
	}
	out := map[string]any{}
	if pol != nil {
		for k, v := range pol.def {
			out[k] = v
		}
	}
	if op != nil {
		for k, ov := range op.def {
			pv, ok := out[k]
			if !ok {
				out[k] = ov
				continue
			}
			a, aok := jsonInt(pv)
			b, bok := jsonInt(ov)
			if aok && bok {
				out[k] = float64(min(a, b))
			} else if _, isBool := ov.(bool); isBool {
				out[k] = ov
			}
		}
	}
	return out
}

// jsonInt reads an integral JSON number from a policy definition.
func jsonInt(v any) (int64, bool) {
	f, ok := v.(float64)
	if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<62 {
		return 0, false
	}
	return int64(f), true
}

// --- policy matching ---

// policyFor finds the highest-priority policy of kind ("queues" or
// "exchanges") matching name among ps; nil if none.
func policyFor(ps []*Policy, kind, name string) *Policy {
	var best *Policy
	for _, p := range ps {
		if p.ApplyTo != "all" && p.ApplyTo != kind {
			continue
		}
		if p.re == nil || !p.re.MatchString(name) {
			continue
		}
		if best == nil || p.Priority > best.Priority {
			best = p
		}
	}
	return best
}

// vhostPolicies returns the policies and operator policies of a vhost.
func (b *Broker) vhostPolicies(vhost string) (pols, ops []*Policy) {
	b.acc.mu.RLock()
	defer b.acc.mu.RUnlock()
	for k, p := range b.acc.policies {
		if k.vhost == vhost {
			pols = append(pols, p)
		}
	}
	for k, p := range b.acc.opPolicies {
		if k.vhost == vhost {
			ops = append(ops, p)
		}
	}
	// Deterministic choice between policies of equal priority.
	byName := func(ps []*Policy) {
		sort.Slice(ps, func(i, j int) bool { return ps[i].Name < ps[j].Name })
	}
	byName(pols)
	byName(ops)
	return pols, ops
}

// applyPolicies recomputes the configuration of every queue and exchange
// of a vhost after a policy changed, without restarting anything.
func (b *Broker) applyPolicies(vhost string) {
	v := b.Vhost(vhost)
	if v == nil {
		return
	}
	pols, ops := b.vhostPolicies(vhost)
	for _, q := range v.Queues() {
		q.setConfig(resolveQueueConfig(q.Args, policyFor(pols, "queues", q.Name), policyFor(ops, "queues", q.Name)))
	}
	v.mu.Lock()
	for _, x := range v.exchanges {
		x.applyPolicy(policyFor(pols, "exchanges", x.Name), policyFor(ops, "exchanges", x.Name))
	}
	v.mu.Unlock()
}

// configFor computes a new queue's configuration.
func (v *Vhost) configFor(name string, args amqp.Table) queueConfig {
	pols, ops := v.broker.vhostPolicies(v.Name)
	return resolveQueueConfig(args, policyFor(pols, "queues", name), policyFor(ops, "queues", name))
}

// policyOfExchange finds the policies for a new exchange.
func (v *Vhost) policyOfExchange(name string) (pol, op *Policy) {
	pols, ops := v.broker.vhostPolicies(v.Name)
	return policyFor(pols, "exchanges", name), policyFor(ops, "exchanges", name)
}

// --- validation ---

// policyKeys are the definition keys a policy may set, with their
// validators (rabbit_policies, rabbit_mirror_queue_misc and the federation
// plugin's keys, accepted as RabbitMQ with those plugins would).
var policyKeys = map[string]func(any) bool{
	"alternate-exchange":            isString,
	"dead-letter-exchange":          isString,
	"dead-letter-routing-key":       isString,
	"dead-letter-strategy":          oneOf("at-most-once", "at-least-once"),
	"message-ttl":                   nonNegInt,
	"expires":                       posInt,
	"max-length":                    nonNegInt,
	"max-length-bytes":              nonNegInt,
	"max-in-memory-length":          nonNegInt,
	"max-in-memory-bytes":           nonNegInt,
	"queue-mode":                    oneOf("default", "lazy"),
	"queue-version":                 func(v any) bool { n, ok := jsonInt(v); return ok && (n == 1 || n == 2) },
	"overflow":                      oneOf(OverflowDropHead, OverflowRejectPublish, OverflowRejectPublishDLX),
	"delivery-limit":                nonNegInt,
	"max-age":                       isString,
	"stream-max-segment-size-bytes": nonNegInt,
	"queue-leader-locator":          oneOf("client-local", "balanced", "random", "least-leaders"),
	"initial-cluster-size":          posInt,
	"ha-mode":                       oneOf("all", "exactly", "nodes"),
	"ha-params":                     func(any) bool { return true },
	"ha-sync-mode":                  oneOf("manual", "automatic"),
	"ha-sync-batch-size":            posInt,
	"ha-promote-on-shutdown":        oneOf("when-synced", "always"),
	"ha-promote-on-failure":         oneOf("when-synced", "always"),
	"queue-master-locator":          oneOf("min-masters", "client-local", "random"),
	"federation-upstream":           isString,
	"federation-upstream-set":       isString,
}

// operatorPolicyKeys are those an operator policy may set.
var operatorPolicyKeys = []string{"expires", "message-ttl", "max-length", "max-length-bytes",
	"max-in-memory-length", "max-in-memory-bytes", "delivery-limit"}

func isString(v any) bool  { _, ok := v.(string); return ok }
func nonNegInt(v any) bool { n, ok := jsonInt(v); return ok && n >= 0 }
func posInt(v any) bool    { n, ok := jsonInt(v); return ok && n > 0 }
func oneOf(vals ...string) func(any) bool {
	return func(v any) bool {
		s, ok := v.(string)
		return ok && slices.Contains(vals, s)
	}
}

// parsePolicyDefinition checks a policy definition as rabbit_policy does
// and returns it decoded.
func parsePolicyDefinition(raw json.RawMessage, operator bool) (map[string]any, error) {
	var def map[string]any
	if err := json.Unmarshal(raw, &def); err != nil || def == nil {
		return nil, errorf(KindCommandInvalid, "policy definition is not a JSON object")
	}
	if len(def) == 0 {
		return nil, errorf(KindCommandInvalid, "Validation failed\n\nno policy provided")
	}
	var unknown []string
	for k, v := range def {
		check, ok := policyKeys[k]
		if operator && !slices.Contains(operatorPolicyKeys, k) {
			ok = false
		}
		if !ok {
			unknown = append(unknown, k)
			continue
		}
		if !check(v) {
			b, _ := json.Marshal(v)
			return nil, errorf(KindCommandInvalid, "Validation failed\n\n%s is not a valid value for %s", b, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, errorf(KindCommandInvalid, "Validation failed\n\n[%s] are not recognised policy settings", strings.Join(unknown, ","))
	}
	if mode, ok := def["ha-mode"].(string); ok && mode != "all" {
		if _, ok := def["ha-params"]; !ok {
			return nil, errorf(KindCommandInvalid, "Validation failed\n\nha-mode %s needs ha-params", mode)
		}
	}
	return def, nil
}

// ValidatePolicyDefinition checks a policy (or, with operator, an operator
// policy) definition as a set_policy command would, so that a batch
// (definitions import) can be validated before any of it is applied.
func ValidatePolicyDefinition(raw json.RawMessage, operator bool) error {
	_, err := parsePolicyDefinition(raw, operator)
	return err
}

// compilePolicy fills in the parsed parts of a policy.
func compilePolicy(p *Policy, operator bool) error {
	re, err := regexp.Compile(p.Pattern)
	if err != nil {
		return errorf(KindCommandInvalid, "Validation failed\n\n%s is not a valid regular expression", p.Pattern)
	}
	def, err := parsePolicyDefinition(p.Definition, operator)
	if err != nil {
		return err
	}
	p.re, p.def = re, def
	return nil
}

// validateQueueArgs checks declare arguments as rabbit_amqqueue does.
func validateQueueArgs(vhost, name string, args amqp.Table) error {
	bad := func(key string, reason string) error {
		return errorf(KindPreconditionFailed, "invalid arg '%s' for queue '%s' in vhost '%s': %s", key, name, vhost, reason)
	}
	for key, v := range args {
		switch key {
		case "x-expires", "x-message-ttl", "x-max-length", "x-max-length-bytes", "x-max-priority", "x-delivery-limit":
			n, ok := asInt(v)
			if !ok {
				return bad(key, fmt.Sprintf("\"expected integer, got %s\"", typeName(v)))
			}
			switch {
			case n < 0:
				return bad(key, fmt.Sprintf("{value_negative,%d}", n))
			case key == "x-expires" && n == 0:
				return bad(key, "{value_zero,0}")
			case (key == "x-expires" || key == "x-message-ttl") && n > math.MaxUint32:
				return bad(key, fmt.Sprintf("{value_too_large,%d,%d}", n, int64(math.MaxUint32)))
			case key == "x-max-priority" && n > 255:
				return bad(key, fmt.Sprintf("{max_value_exceeded,%d}", n))
			}
		case "x-dead-letter-exchange", "x-dead-letter-routing-key":
			if _, ok := v.(string); !ok {
				return bad(key, fmt.Sprintf("{unacceptable_type,%s}", typeName(v)))
			}
		case "x-overflow":
			s, ok := v.(string)
			if !ok {
				return bad(key, fmt.Sprintf("{unacceptable_type,%s}", typeName(v)))
			}
			if !oneOf(OverflowDropHead, OverflowRejectPublish, OverflowRejectPublishDLX)(s) {
				return bad(key, "invalid_overflow")
			}
		case "x-single-active-consumer":
			if _, ok := v.(bool); !ok {
				return bad(key, fmt.Sprintf("{unacceptable_type,%s}", typeName(v)))
			}
		}
	}
	if _, ok := args["x-delivery-limit"]; ok && args["x-queue-type"] != "quorum" {
		return errorf(KindPreconditionFailed, "invalid arg 'x-delivery-limit' for queue '%s' in vhost '%s' of queue type rabbit_classic_queue", name, vhost)
	}
	if _, hasRK := args["x-dead-letter-routing-key"]; hasRK {
		if _, hasX := args["x-dead-letter-exchange"]; !hasX {
			return bad("x-dead-letter-routing-key", "routing_key_but_no_dlx_defined")
		}
	}
	return nil
}
