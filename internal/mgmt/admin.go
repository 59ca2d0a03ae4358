package mgmt

import (
	"net/http"
	"strings"

	"github.com/warrenmq/warren/internal/auth"
	"github.com/warrenmq/warren/internal/broker"
	"github.com/warrenmq/warren/internal/mgmt/apitypes"
)

// --- vhosts ---

func (s *Server) vhostJSON(v *broker.Vhost, stats bool) apitypes.Vhost {
	meta := s.vhostMeta(v.Name)
	out := apitypes.Vhost{Name: v.Name, Description: meta.Description, Tags: meta.Tags, Metadata: meta,
		DefaultQueueType: s.defaultQueueType(v.Name), ClusterState: map[string]string{s.cfg.NodeName: "running"}}
	for _, q := range v.Queues() {
		i := q.Info()
		out.Messages += i.Ready + i.Unacked
		out.MessagesReady += i.Ready
		out.MessagesUnacknowledged += i.Unacked
	}
	if stats {
		rs := s.rates.get(vhostKey(v.Name))
		out.MessagesDetails = rateAt(rs, qMessages)
		out.MessagesReadyDetails = rateAt(rs, qReady)
		out.MessagesUnacknowledgedDetails = rateAt(rs, qUnacked)
		if len(rs) > 0 {
			st := s.rates.values(vhostKey(v.Name))
			out.MessageStats = &apitypes.MessageStats{
				Publish: u64(uint64(st[qPublish])), PublishDetails: rateAt(rs, qPublish),
				DeliverGet: u64(uint64(st[qDeliverGet])), DeliverGetDetails: rateAt(rs, qDeliverGet),
				Ack: u64(uint64(st[qAck])), AckDetails: rateAt(rs, qAck),
			}
		}
		if a := s.cfg.AMQP; a != nil {
			for _, c := range a.Connections() {
				if c.Vhost == v.Name {
					out.RecvOct += c.RecvOct
					out.SendOct += c.SendOct
				}
			}
		}
		out.RecvOctDetails, out.SendOctDetails = &apitypes.Rate{}, &apitypes.Rate{}
	}
	return out
}

func (s *Server) listVhosts(w http.ResponseWriter, r *http.Request, c *caller) error {
	out := []apitypes.Vhost{}
	stats := statsWanted(r)
	for _, v := range s.cfg.Broker.Vhosts() {
		if s.canSee(c, v.Name) {
			out = append(out, s.vhostJSON(v, stats))
		}
	}
	return replyList(w, r, out, "name")
}

func (s *Server) getVhost(w http.ResponseWriter, r *http.Request, c *caller) error {
	v, err := s.vhostOf(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.vhostJSON(v, statsWanted(r)))
	return nil
}

func (s *Server) putVhost(w http.ResponseWriter, r *http.Request, c *caller) error {
	name := pathValue(r, "vhost")
	var body apitypes.VhostBody
	if err := decode(r, &body); err != nil {
		return err
	}
	created, err := s.addOrUpdateVhost(name, body)
	if err != nil {
		return err
	}
	writeCreated(w, created)
	return nil
}

func (s *Server) deleteVhost(w http.ResponseWriter, r *http.Request, c *caller) error {
	v, err := s.vhostOf(r)
	if err != nil {
		return err
	}
	// The AMQP server hears of the deletion and closes the vhost's
	// connections.
	if _, err := s.cfg.Broker.Apply(&broker.Command{Op: broker.OpDeleteVhost, Vhost: v.Name}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// --- users ---

func userJSON(u *broker.User) apitypes.User {
	tags := apitypes.Tags(append([]string{}, u.Tags...))
	algo := u.HashingAlgorithm
	if algo == "" {
		algo = auth.DefaultAlgorithm
	}
	limits := map[string]any{}
	for k, v := range u.Limits {
		limits[k] = v
	}
	return apitypes.User{Name: u.Name, PasswordHash: u.PasswordHash, HashingAlgorithm: algo, Tags: tags, Limits: limits}
}

func (s *Server) listUsersH(w http.ResponseWriter, r *http.Request, c *caller) error {
	out := []apitypes.User{}
	for _, u := range s.listUsers() {
		out = append(out, userJSON(u))
	}
	return replyList(w, r, out, "name")
}

func (s *Server) usersWithoutPermissions(w http.ResponseWriter, r *http.Request, c *caller) error {
	has := map[string]bool{}
	for _, p := range s.permissions() {
		has[p.User] = true
	}
	out := []apitypes.User{}
	for _, u := range s.listUsers() {
		if !has[u.Name] {
			out = append(out, userJSON(u))
		}
	}
	return replyList(w, r, out, "name")
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, c *caller) error {
	u := s.lookupUser(pathValue(r, "user"))
	if u == nil {
		return errNotFound
	}
	writeJSON(w, http.StatusOK, userJSON(u))
	return nil
}

func (s *Server) putUserH(w http.ResponseWriter, r *http.Request, c *caller) error {
	name := pathValue(r, "user")
	var body apitypes.UserBody
	if err := decode(r, &body); err != nil {
		return err
	}
	var hash string
	switch {
	case body.Password != nil:
		if *body.Password == "" {
			return badRequest("password must not be empty")
		}
		hash = auth.HashPassword(*body.Password)
	case body.PasswordHash != nil:
		hash = *body.PasswordHash
	default:
		if old := s.lookupUser(name); old != nil {
			hash = old.PasswordHash // changing tags only
		} else {
			return badRequest("key_missing: password or password_hash")
		}
	}
	tags := []string(body.Tags)
	if tags == nil {
		tags = []string{}
	}
	algo := auth.DefaultAlgorithm
	if body.Password == nil && body.PasswordHash != nil && body.HashingAlgorithm != "" {
		algo = body.HashingAlgorithm
	} else if body.Password == nil && body.PasswordHash == nil {
		algo = s.lookupUser(name).HashingAlgorithm
	}
	created, err := s.putUser(name, hash, algo, tags)
	if err != nil {
		return err
	}
	writeCreated(w, created)
	return nil
}

func (s *Server) deleteUserH(w http.ResponseWriter, r *http.Request, c *caller) error {
	name := pathValue(r, "user")
	if s.lookupUser(name) == nil {
		return errNotFound
	}
	if err := s.deleteUser(name); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) bulkDeleteUsers(w http.ResponseWriter, r *http.Request, c *caller) error {
	var body apitypes.UsersBulkDelete
	if err := decode(r, &body); err != nil {
		return err
	}
	for _, u := range body.Users {
		if s.lookupUser(u) == nil {
			continue
		}
		if err := s.deleteUser(u); err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request, c *caller) error {
	writeJSON(w, http.StatusOK, apitypes.Whoami{Name: c.user.Name, Tags: apitypes.Tags(append([]string{}, c.user.Tags...))})
	return nil
}

// --- permissions ---

func (s *Server) listPermissions(w http.ResponseWriter, r *http.Request, c *caller) error {
	vhost, user := pathValue(r, "vhost"), pathValue(r, "user")
	if vhost != "" && s.cfg.Broker.Vhost(vhost) == nil {
		return errNotFound
	}
	if user != "" && s.lookupUser(user) == nil {
		return errNotFound
	}
	out := []apitypes.Permission{}
	for _, p := range s.permissions() {
		if (vhost == "" || p.Vhost == vhost) && (user == "" || p.User == user) {
			out = append(out, p)
		}
	}
	return replyList(w, r, out, "vhost", "user")
}

func (s *Server) getPermission(w http.ResponseWriter, r *http.Request, c *caller) error {
	vhost, user := pathValue(r, "vhost"), pathValue(r, "user")
	for _, p := range s.permissions() {
		if p.Vhost == vhost && p.User == user {
			writeJSON(w, http.StatusOK, p)
			return nil
		}
	}
	return errNotFound
}

func (s *Server) putPermission(w http.ResponseWriter, r *http.Request, c *caller) error {
	vhost, user := pathValue(r, "vhost"), pathValue(r, "user")
	if s.cfg.Broker.Vhost(vhost) == nil || s.lookupUser(user) == nil {
		return errNotFound
	}
	var p apitypes.Permission
	if err := decode(r, &p); err != nil {
		return err
	}
	p.Vhost, p.User = vhost, user
	created, err := s.setPermission(p)
	if err != nil {
		return err
	}
	writeCreated(w, created)
	return nil
}

func (s *Server) deletePermission(w http.ResponseWriter, r *http.Request, c *caller) error {
	vhost, user := pathValue(r, "vhost"), pathValue(r, "user")
	found := false
	for _, p := range s.permissions() {
		found = found || (p.Vhost == vhost && p.User == user)
	}
	if !found {
		return errNotFound
	}
	if err := s.clearPermission(vhost, user); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listTopicPermissions(w http.ResponseWriter, r *http.Request, c *caller) error {
	vhost, user := pathValue(r, "vhost"), pathValue(r, "user")
	if vhost != "" && s.cfg.Broker.Vhost(vhost) == nil {
		return errNotFound
	}
	if user != "" && s.lookupUser(user) == nil {
		return errNotFound
	}
	out := []apitypes.TopicPermission{}
	for _, p := range s.topicPermissions() {
		if (vhost == "" || p.Vhost == vhost) && (user == "" || p.User == user) {
			out = append(out, p)
		}
	}
	return replyList(w, r, out, "vhost", "user")
}

func (s *Server) getTopicPermission(w http.ResponseWriter, r *http.Request, c *caller) error {
	vhost, user := pathValue(r, "vhost"), pathValue(r, "user")
	out := []apitypes.TopicPermission{}
	for _, p := range s.topicPermissions() {
		if p.Vhost == vhost && p.User == user {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return errNotFound
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) putTopicPermission(w http.ResponseWriter, r *http.Request, c *caller) error {
	vhost, user := pathValue(r, "vhost"), pathValue(r, "user")
	if s.cfg.Broker.Vhost(vhost) == nil || s.lookupUser(user) == nil {
		return errNotFound
	}
	var p apitypes.TopicPermission
	if err := decode(r, &p); err != nil {
		return err
	}
	p.Vhost, p.User = vhost, user
	created, err := s.setTopicPermission(p)
	if err != nil {
		return err
	}
	writeCreated(w, created)
	return nil
}

func (s *Server) deleteTopicPermission(w http.ResponseWriter, r *http.Request, c *caller) error {
	vhost, user := pathValue(r, "vhost"), pathValue(r, "user")
	if err := s.clearTopicPermission(vhost, user, pathValue(r, "exchange")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// --- policies, parameters, limits ---

// Policies and operator policies share their handlers; the route says
// which table (operator policies: /api/operator-policies/...).
func isOperator(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/operator-policies") }

func (s *Server) policyList(r *http.Request) []apitypes.Policy {
	if isOperator(r) {
		return s.operatorPolicies()
	}
	return s.policies()
}

func (s *Server) listPolicies(w http.ResponseWriter, r *http.Request, c *caller) error {
	vhost := pathValue(r, "vhost")
	if vhost != "" && s.cfg.Broker.Vhost(vhost) == nil {
		return errNotFound
	}
	out := []apitypes.Policy{}
	for _, p := range s.policyList(r) {
		if (vhost == "" || p.Vhost == vhost) && s.canSee(c, p.Vhost) {
			out = append(out, p)
		}
	}
	return replyList(w, r, out, "vhost", "name")
}

func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request, c *caller) error {
	vhost, name := pathValue(r, "vhost"), pathValue(r, "name")
	for _, p := range s.policyList(r) {
		if p.Vhost == vhost && p.Name == name {
			writeJSON(w, http.StatusOK, p)
			return nil
		}
	}
	return errNotFound
}

func (s *Server) putPolicy(w http.ResponseWriter, r *http.Request, c *caller) error {
	vhost, name := pathValue(r, "vhost"), pathValue(r, "name")
	if s.cfg.Broker.Vhost(vhost) == nil {
		return errNotFound
	}
	b, err := decodeBody(r)
	if err != nil {
		return err
	}
	def, err := b.object("definition")
	if err != nil {
		return err
	}
	prio, err := b.integer("priority", 0)
	if err != nil {
		return err
	}
	p := apitypes.Policy{Vhost: vhost, Name: name, Pattern: b.str("pattern"), ApplyTo: b.str("apply-to"),
		Definition: def, Priority: int(prio)}
	if !b.has("pattern") || def == nil {
		return badRequest("key_missing: pattern and definition are required")
	}
	if p.ApplyTo == "" {
		p.ApplyTo = "all"
	}
	created, err := s.setPolicy(p, isOperator(r))
	if err != nil {
		return err
	}
	writeCreated(w, created)
	return nil
}

func (s *Server) deletePolicy(w http.ResponseWriter, r *http.Request, c *caller) error {
	vhost, name := pathValue(r, "vhost"), pathValue(r, "name")
	found := false
	for _, p := range s.policyList(r) {
		found = found || (p.Vhost == vhost && p.Name == name)
	}
	if !found {
		return errNotFound
	}
	if err := s.clearPolicy(vhost, name, isOperator(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listParameters(w http.ResponseWriter, r *http.Request, c *caller) error {
	comp, vhost := pathValue(r, "component"), pathValue(r, "vhost")
	if vhost != "" && s.cfg.Broker.Vhost(vhost) == nil {
		return errNotFound
	}
	out := []apitypes.Parameter{}
	for _, p := range s.parameters() {
		if (comp == "" || p.Component == comp) && (vhost == "" || p.Vhost == vhost) && s.canSee(c, p.Vhost) {
			out = append(out, p)
		}
	}
	return replyList(w, r, out, "vhost", "component", "name")
}

func (s *Server) getParameter(w http.ResponseWriter, r *http.Request, c *caller) error {
	comp, vhost, name := pathValue(r, "component"), pathValue(r, "vhost"), pathValue(r, "name")
	for _, p := range s.parameters() {
		if p.Component == comp && p.Vhost == vhost && p.Name == name {
			writeJSON(w, http.StatusOK, p)
			return nil
		}
	}
	return errNotFound
}

func (s *Server) putParameter(w http.ResponseWriter, r *http.Request, c *caller) error {
	comp, vhost, name := pathValue(r, "component"), pathValue(r, "vhost"), pathValue(r, "name")
	if s.cfg.Broker.Vhost(vhost) == nil {
		return errNotFound
	}
	var p apitypes.Parameter
	if err := decode(r, &p); err != nil {
		return err
	}
	p.Component, p.Vhost, p.Name = comp, vhost, name
	created, err := s.setParameter(p)
	if err != nil {
		return err
	}
	writeCreated(w, created)
	return nil
}

func (s *Server) deleteParameter(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := s.clearParameter(pathValue(r, "component"), pathValue(r, "vhost"), pathValue(r, "name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listGlobalParameters(w http.ResponseWriter, r *http.Request, c *caller) error {
	return replyList(w, r, s.globalParameters(), "name")
}

func (s *Server) getGlobalParameter(w http.ResponseWriter, r *http.Request, c *caller) error {
	for _, p := range s.globalParameters() {
		if p.Name == pathValue(r, "name") {
			writeJSON(w, http.StatusOK, p)
			return nil
		}
	}
	return errNotFound
}

func (s *Server) listVhostLimits(w http.ResponseWriter, r *http.Request, c *caller) error {
	vhost := pathValue(r, "vhost")
	if vhost != "" && s.cfg.Broker.Vhost(vhost) == nil {
		return errNotFound
	}
	out := []apitypes.VhostLimits{}
	for _, l := range s.vhostLimits() {
		if (vhost == "" || l.Vhost == vhost) && s.canSee(c, l.Vhost) {
			out = append(out, l)
		}
	}
	return replyList(w, r, out, "vhost")
}

func (s *Server) putVhostLimit(w http.ResponseWriter, r *http.Request, c *caller) error {
	vhost, name := pathValue(r, "vhost"), pathValue(r, "name")
	if s.cfg.Broker.Vhost(vhost) == nil {
		return errNotFound
	}
	if name != "max-connections" && name != "max-queues" {
		return badRequest("Unrecognised limit %s", name)
	}
	b, err := decodeBody(r)
	if err != nil {
		return err
	}
	n, err := b.integer("value", 0)
	if err != nil {
		return err
	}
	if !b.has("value") {
		return badRequest("key_missing: value")
	}
	if err := s.setVhostLimit(vhost, name, int(n)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) deleteVhostLimit(w http.ResponseWriter, r *http.Request, c *caller) error {
	vhost, name := pathValue(r, "vhost"), pathValue(r, "name")
	if s.cfg.Broker.Vhost(vhost) == nil {
		return errNotFound
	}
	if err := s.clearVhostLimit(vhost, strings.TrimSpace(name)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// writeCreated answers a PUT as RabbitMQ does: 201 when it created the
// object, 204 when it replaced one.
func writeCreated(w http.ResponseWriter, created bool) {
	if created {
		w.WriteHeader(http.StatusCreated)
	} else {
		w.WriteHeader(http.StatusNoContent)
	}
}
