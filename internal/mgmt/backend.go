package mgmt

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/warrenmq/warren/internal/auth"
	"github.com/warrenmq/warren/internal/broker"
	"github.com/warrenmq/warren/internal/definitions"
	"github.com/warrenmq/warren/internal/mgmt/apitypes"
)

// This file is the seam to users, permissions, vhost metadata and limits,
// policies and parameters (the broker's access metadata) and to
// definitions export/import. Reads use the broker's lookups; every change
// is a broker.Command through Apply.

func (s *Server) lookupUser(name string) *broker.User { return s.cfg.Broker.User(name) }

func (s *Server) listUsers() []*broker.User { return s.cfg.Broker.Users() }

// checkLogin verifies a password as the AMQP side does; a user without a
// password hash cannot log in with a password.
func checkLogin(u *broker.User, password string) bool {
	return u != nil && u.PasswordHash != "" && auth.VerifyPassword(u.HashingAlgorithm, u.PasswordHash, password)
}

// userVhosts lists the vhosts the user has permissions in.
func (s *Server) userVhosts(user string) []string {
	var out []string
	for _, p := range s.cfg.Broker.Permissions() {
		if p.User == user {
			out = append(out, p.Vhost)
		}
	}
	return out
}

func (s *Server) apply(c *broker.Command) error {
	_, err := s.cfg.Broker.Apply(c)
	return err
}

// putUser creates or updates a user; created reports a new one.
func (s *Server) putUser(name, hash, algo string, tags []string) (created bool, err error) {
	created = s.lookupUser(name) == nil
	if algo == "" {
		algo = auth.DefaultAlgorithm
	}
	if !auth.KnownAlgorithm(algo) {
		return false, badRequest("unknown hashing algorithm %s", algo)
	}
	return created, s.apply(&broker.Command{Op: broker.OpPutUser, User: name, PasswordHash: hash,
		HashingAlgorithm: algo, Tags: tags})
}

func (s *Server) deleteUser(name string) error {
	return s.apply(&broker.Command{Op: broker.OpDeleteUser, User: name})
}

func permJSON(p *broker.Permission) apitypes.Permission {
	return apitypes.Permission{User: p.User, Vhost: p.Vhost, Configure: p.Configure, Write: p.Write, Read: p.Read}
}

func (s *Server) permissions() []apitypes.Permission {
	var out []apitypes.Permission
	for _, p := range s.cfg.Broker.Permissions() {
		out = append(out, permJSON(p))
	}
	return out
}

func (s *Server) setPermission(p apitypes.Permission) (created bool, err error) {
	created = s.cfg.Broker.Permission(p.User, p.Vhost) == nil
	return created, s.apply(&broker.Command{Op: broker.OpSetPermissions, User: p.User, Vhost: p.Vhost,
		Configure: p.Configure, Write: p.Write, Read: p.Read})
}

func (s *Server) clearPermission(vhost, user string) error {
	return s.apply(&broker.Command{Op: broker.OpClearPermissions, User: user, Vhost: vhost})
}

func (s *Server) topicPermissions() []apitypes.TopicPermission {
	var out []apitypes.TopicPermission
	for _, p := range s.cfg.Broker.TopicPermissions() {
		out = append(out, apitypes.TopicPermission{User: p.User, Vhost: p.Vhost, Exchange: p.Exchange,
			Write: p.Write, Read: p.Read})
	}
	return out
}

func (s *Server) setTopicPermission(p apitypes.TopicPermission) (created bool, err error) {
	created = !s.cfg.Broker.HasTopicPermission(p.User, p.Vhost, p.Exchange)
	return created, s.apply(&broker.Command{Op: broker.OpSetTopicPermissions, User: p.User, Vhost: p.Vhost,
		Exchange: p.Exchange, Write: p.Write, Read: p.Read})
}

func (s *Server) clearTopicPermission(vhost, user, exchange string) error {
	return s.apply(&broker.Command{Op: broker.OpClearTopicPermissions, User: user, Vhost: vhost, Exchange: exchange})
}

func rawJSON(raw json.RawMessage) any {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil
	}
	return v
}

func (s *Server) policies() []apitypes.Policy { return policyJSON(s.cfg.Broker.Policies("")) }

func (s *Server) operatorPolicies() []apitypes.Policy {
	return policyJSON(s.cfg.Broker.OperatorPolicies(""))
}

func policyJSON(ps []*broker.Policy) []apitypes.Policy {
	var out []apitypes.Policy
	for _, p := range ps {
		def, _ := rawJSON(p.Definition).(map[string]any)
		if def == nil {
			def = map[string]any{}
		}
		out = append(out, apitypes.Policy{Vhost: p.Vhost, Name: p.Name, Pattern: p.Pattern, ApplyTo: p.ApplyTo,
			Definition: def, Priority: p.Priority})
	}
	return out
}

// setPolicy sets a policy, or an operator policy with op.
func (s *Server) setPolicy(p apitypes.Policy, operator bool) (created bool, err error) {
	created = true
	existing, op := s.cfg.Broker.Policies(p.Vhost), broker.OpSetPolicy
	if operator {
		existing, op = s.cfg.Broker.OperatorPolicies(p.Vhost), broker.OpSetOperatorPolicy
	}
	for _, x := range existing {
		if x.Name == p.Name {
			created = false
		}
	}
	def, err := json.Marshal(p.Definition)
	if err != nil {
		return false, badRequest("%v", err)
	}
	return created, s.apply(&broker.Command{Op: op, Vhost: p.Vhost, Name: p.Name, Pattern: p.Pattern,
		ApplyTo: p.ApplyTo, Priority: p.Priority, Value: def})
}

func (s *Server) clearPolicy(vhost, name string, operator bool) error {
	op := broker.OpClearPolicy
	if operator {
		op = broker.OpClearOperatorPolicy
	}
	return s.apply(&broker.Command{Op: op, Vhost: vhost, Name: name})
}

func (s *Server) parameters() []apitypes.Parameter {
	var out []apitypes.Parameter
	for _, p := range s.cfg.Broker.Parameters("") {
		out = append(out, apitypes.Parameter{Vhost: p.Vhost, Component: p.Component, Name: p.Name, Value: rawJSON(p.Value)})
	}
	return out
}

func (s *Server) setParameter(p apitypes.Parameter) (created bool, err error) {
	created = true
	for _, x := range s.cfg.Broker.Parameters(p.Vhost) {
		if x.Component == p.Component && x.Name == p.Name {
			created = false
		}
	}
	v, err := json.Marshal(p.Value)
	if err != nil {
		return false, badRequest("%v", err)
	}
	return created, s.apply(&broker.Command{Op: broker.OpSetParameter, Vhost: p.Vhost, Component: p.Component,
		Name: p.Name, Value: v})
}

func (s *Server) clearParameter(component, vhost, name string) error {
	for _, x := range s.cfg.Broker.Parameters(vhost) {
		if x.Component == component && x.Name == name {
			return s.apply(&broker.Command{Op: broker.OpClearParameter, Vhost: vhost, Component: component, Name: name})
		}
	}
	return errNotFound
}

func (s *Server) globalParameters() []apitypes.GlobalParameter {
	out := []apitypes.GlobalParameter{}
	seen := false
	for _, p := range s.cfg.Broker.GlobalParameters() {
		out = append(out, apitypes.GlobalParameter{Name: p.Name, Value: rawJSON(p.Value)})
		seen = seen || p.Name == "cluster_name"
	}
	if !seen {
		out = append(out, apitypes.GlobalParameter{Name: "cluster_name", Value: s.clusterNameValue()})
	}
	return out
}

func (s *Server) vhostLimits() []apitypes.VhostLimits {
	var out []apitypes.VhostLimits
	for _, v := range s.cfg.Broker.Vhosts() {
		vi := s.cfg.Broker.VhostInfo(v.Name)
		if vi == nil || len(vi.Limits) == 0 {
			continue
		}
		l := apitypes.VhostLimits{Vhost: v.Name, Value: map[string]int{}}
		for k, n := range vi.Limits {
			l.Value[k] = int(n)
		}
		out = append(out, l)
	}
	return out
}

func (s *Server) setVhostLimit(vhost, name string, value int) error {
	limits := map[string]int64{}
	if vi := s.cfg.Broker.VhostInfo(vhost); vi != nil {
		for k, v := range vi.Limits {
			limits[k] = v
		}
	}
	limits[name] = int64(value)
	return s.apply(&broker.Command{Op: broker.OpSetVhostLimits, Vhost: vhost, Limits: limits})
}

func (s *Server) clearVhostLimit(vhost, name string) error {
	return s.apply(&broker.Command{Op: broker.OpClearVhostLimits, Vhost: vhost, Name: name})
}

func (s *Server) vhostMeta(name string) apitypes.VhostMetadata {
	m := apitypes.VhostMetadata{Tags: apitypes.Tags{}}
	if vi := s.cfg.Broker.VhostInfo(name); vi != nil {
		m.Description = vi.Description
		m.Tags = append(m.Tags, vi.Tags...)
	}
	return m
}

func (s *Server) defaultQueueType(name string) string {
	if vi := s.cfg.Broker.VhostInfo(name); vi != nil && vi.DefaultQueueType != "" {
		return vi.DefaultQueueType
	}
	return "classic"
}

// addOrUpdateVhost creates a vhost with its metadata, or updates the
// metadata of an existing one.
func (s *Server) addOrUpdateVhost(name string, body apitypes.VhostBody) (created bool, err error) {
	if s.cfg.Broker.Vhost(name) == nil {
		return true, s.apply(&broker.Command{Op: broker.OpAddVhost, Vhost: name, Description: body.Description,
			Tags: body.Tags, DefaultQueueType: body.DefaultQueueType})
	}
	return false, s.apply(&broker.Command{Op: broker.OpSetVhostMetadata, Vhost: name, Description: body.Description,
		Tags: body.Tags, DefaultQueueType: body.DefaultQueueType})
}

// exportDefinitions is internal/definitions' export: the whole broker, or
// one vhost in RabbitMQ's per-vhost shape.
func (s *Server) exportDefinitions(vhost string) (any, error) {
	b, err := definitions.Export(s.cfg.Broker, vhost)
	if err != nil {
		return nil, err
	}
	return json.RawMessage(b), nil
}

func (s *Server) importDefinitions(vhost string, body []byte) error {
	var err error
	if vhost == "" {
		err = definitions.Import(s.cfg.Broker, body)
	} else {
		err = definitions.ImportVhost(s.cfg.Broker, vhost, body)
	}
	if err != nil && broker.AsError(err) == nil {
		return &apiError{http.StatusBadRequest, "bad_request", err.Error()}
	}
	return err
}
