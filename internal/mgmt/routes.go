package mgmt

import (
	"net/http"
)

// routes registers every endpoint with RabbitMQ's authorisation rule
// (rabbit_mgmt_dispatcher.erl and the is_authorized of each
// rabbit_mgmt_wm_*.erl). Warren-specific Go 1.22 patterns: {vhost} is the
// URL-encoded vhost ("%2F" for "/").
func (s *Server) routes() {
	h := s.handle
	h("GET /api/overview", accMgmt, s.overview)
	h("GET /api/cluster-name", accMgmt, s.clusterName)
	h("PUT /api/cluster-name", accAdmin, s.putClusterName)
	h("GET /api/nodes", accMonitor, s.listNodes)
	h("GET /api/nodes/{node}", accMonitor, s.getNode)
	h("GET /api/extensions", accMgmt, func(w http.ResponseWriter, r *http.Request, c *caller) error {
		writeJSON(w, http.StatusOK, []any{})
		return nil
	})
	h("GET /api/feature-flags", accAdmin, func(w http.ResponseWriter, r *http.Request, c *caller) error {
		writeJSON(w, http.StatusOK, []any{})
		return nil
	})
	h("GET /api/whoami", accMgmt, s.whoami)
	h("GET /api/auth", accMgmt, func(w http.ResponseWriter, r *http.Request, c *caller) error {
		writeJSON(w, http.StatusOK, map[string]any{"oauth_enabled": false})
		return nil
	})

	h("GET /api/definitions", accAdmin, s.getDefinitions)
	h("POST /api/definitions", accAdmin, s.postDefinitions)
	h("GET /api/all-configuration", accAdmin, s.getDefinitions)
	h("GET /api/definitions/{vhost}", accAdmin, s.getDefinitions)
	h("POST /api/definitions/{vhost}", accAdmin, s.postDefinitions)

	h("GET /api/vhosts", accMgmt, s.listVhosts)
	h("GET /api/vhosts/{vhost}", accAdmin, s.getVhost)
	h("PUT /api/vhosts/{vhost}", accAdmin, s.putVhost)
	h("DELETE /api/vhosts/{vhost}", accAdmin, s.deleteVhost)
	h("GET /api/vhosts/{vhost}/permissions", accAdmin, s.listPermissions)
	h("GET /api/vhosts/{vhost}/topic-permissions", accAdmin, s.listTopicPermissions)
	h("GET /api/vhosts/{vhost}/connections", accVhost, s.listConnections)
	h("GET /api/vhosts/{vhost}/channels", accVhost, s.listChannels)

	h("GET /api/users", accAdmin, s.listUsersH)
	h("GET /api/users/without-permissions", accAdmin, s.usersWithoutPermissions)
	h("POST /api/users/bulk-delete", accAdmin, s.bulkDeleteUsers)
	h("GET /api/users/{user}", accAdmin, s.getUser)
	h("PUT /api/users/{user}", accAdmin, s.putUserH)
	h("DELETE /api/users/{user}", accAdmin, s.deleteUserH)
	h("GET /api/users/{user}/permissions", accAdmin, s.listPermissions)
	h("GET /api/users/{user}/topic-permissions", accAdmin, s.listTopicPermissions)

	h("GET /api/permissions", accAdmin, s.listPermissions)
	h("GET /api/permissions/{vhost}/{user}", accAdmin, s.getPermission)
	h("PUT /api/permissions/{vhost}/{user}", accAdmin, s.putPermission)
	h("DELETE /api/permissions/{vhost}/{user}", accAdmin, s.deletePermission)
	h("GET /api/topic-permissions", accAdmin, s.listTopicPermissions)
	h("GET /api/topic-permissions/{vhost}/{user}", accAdmin, s.getTopicPermission)
	h("PUT /api/topic-permissions/{vhost}/{user}", accAdmin, s.putTopicPermission)
	h("DELETE /api/topic-permissions/{vhost}/{user}", accAdmin, s.deleteTopicPermission)
	h("DELETE /api/topic-permissions/{vhost}/{user}/{exchange}", accAdmin, s.deleteTopicPermission)

	h("GET /api/exchanges", accVhost, s.listExchanges)
	h("GET /api/exchanges/{vhost}", accVhost, s.listExchanges)
	h("GET /api/exchanges/{vhost}/{exchange}", accVhost, s.getExchange)
	h("PUT /api/exchanges/{vhost}/{exchange}", accVhost, s.putExchange)
	h("DELETE /api/exchanges/{vhost}/{exchange}", accVhost, s.deleteExchange)
	h("POST /api/exchanges/{vhost}/{exchange}/publish", accVhost, s.publish)
	h("GET /api/exchanges/{vhost}/{exchange}/bindings/source", accVhost, s.exchangeBindings(true))
	h("GET /api/exchanges/{vhost}/{exchange}/bindings/destination", accVhost, s.exchangeBindings(false))

	h("GET /api/queues", accVhost, s.listQueues)
	h("GET /api/queues/{vhost}", accVhost, s.listQueues)
	h("GET /api/queues/{vhost}/{queue}", accVhost, s.getQueue)
	h("PUT /api/queues/{vhost}/{queue}", accVhost, s.putQueue)
	h("DELETE /api/queues/{vhost}/{queue}", accVhost, s.deleteQueue)
	h("GET /api/queues/{vhost}/{queue}/bindings", accVhost, s.queueBindings)
	h("DELETE /api/queues/{vhost}/{queue}/contents", accVhost, s.purgeQueue)
	h("POST /api/queues/{vhost}/{queue}/get", accVhost, s.getMessages)
	h("POST /api/queues/{vhost}/{queue}/actions", accAdmin, s.queueActions)

	h("GET /api/bindings", accVhost, s.listBindings)
	h("GET /api/bindings/{vhost}", accVhost, s.listBindings)
	h("GET /api/bindings/{vhost}/e/{source}/{dtype}/{destination}", accVhost, s.listBindingsBetween)
	h("POST /api/bindings/{vhost}/e/{source}/{dtype}/{destination}", accVhost, s.createBinding)
	h("GET /api/bindings/{vhost}/e/{source}/{dtype}/{destination}/{props}", accVhost, s.getBinding)
	h("DELETE /api/bindings/{vhost}/e/{source}/{dtype}/{destination}/{props}", accVhost, s.deleteBinding)

	h("GET /api/connections", accMgmt, s.listConnections)
	h("GET /api/connections/{connection}", accOwnObject, s.getConnection)
	h("DELETE /api/connections/{connection}", accOwnObject, s.deleteConnection)
	h("GET /api/connections/{connection}/channels", accOwnObject, s.listChannels)
	h("GET /api/channels", accMgmt, s.listChannels)
	h("GET /api/channels/{channel}", accOwnObject, s.getChannel)
	h("GET /api/consumers", accMgmt, s.listConsumers)
	h("GET /api/consumers/{vhost}", accVhost, s.listConsumers)

	h("GET /api/policies", accVhost, s.listPolicies)
	h("GET /api/policies/{vhost}", accVhost, s.listPolicies)
	h("GET /api/policies/{vhost}/{name}", accPolicies, s.getPolicy)
	h("PUT /api/policies/{vhost}/{name}", accPolicies, s.putPolicy)
	h("DELETE /api/policies/{vhost}/{name}", accPolicies, s.deletePolicy)
	h("GET /api/operator-policies", accVhost, s.listPolicies)
	h("GET /api/operator-policies/{vhost}", accVhost, s.listPolicies)
	h("GET /api/operator-policies/{vhost}/{name}", accAdmin, s.getPolicy)
	h("PUT /api/operator-policies/{vhost}/{name}", accAdmin, s.putPolicy)
	h("DELETE /api/operator-policies/{vhost}/{name}", accAdmin, s.deletePolicy)
	h("GET /api/parameters", accPolicies, s.listParameters)
	h("GET /api/parameters/{component}", accPolicies, s.listParameters)
	h("GET /api/parameters/{component}/{vhost}", accPolicies, s.listParameters)
	h("GET /api/parameters/{component}/{vhost}/{name}", accPolicies, s.getParameter)
	h("PUT /api/parameters/{component}/{vhost}/{name}", accPolicies, s.putParameter)
	h("DELETE /api/parameters/{component}/{vhost}/{name}", accPolicies, s.deleteParameter)
	h("GET /api/global-parameters", accGlobalParams, s.listGlobalParameters)
	h("GET /api/global-parameters/{name}", accGlobalParams, s.getGlobalParameter)
	h("GET /api/vhost-limits", accVhostMonitor, s.listVhostLimits)
	h("GET /api/vhost-limits/{vhost}", accVhostMonitor, s.listVhostLimits)
	h("PUT /api/vhost-limits/{vhost}/{name}", accAdmin, s.putVhostLimit)
	h("DELETE /api/vhost-limits/{vhost}/{name}", accAdmin, s.deleteVhostLimit)

	h("GET /api/aliveness-test/{vhost}", accVhost, s.aliveness)
	h("GET /api/healthchecks/node", accMgmt, func(w http.ResponseWriter, r *http.Request, c *caller) error {
		return healthOK(w)
	})
	h("GET /api/health/checks/alarms", accMgmt, s.healthAlarms)
	h("GET /api/health/checks/local-alarms", accMgmt, s.healthLocalAlarms)
	h("GET /api/health/checks/port-listener/{port}", accMgmt, s.healthPortListener)
	h("GET /api/health/checks/protocol-listener/{protocol}", accMgmt, s.healthProtocolListener)
	h("GET /api/health/checks/virtual-hosts", accMgmt, s.healthVhosts)
	h("GET /api/health/checks/node-is-quorum-critical", accMgmt, s.healthQuorumCritical)
	h("GET /api/health/checks/node-is-mirror-sync-critical", accMgmt, s.healthQuorumCritical)

	// Warren-specific: load tests (loadtest.go), administrators only.
	s.loadTestRoutes()

	// Unknown /api paths: RabbitMQ's 404 body.
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) { writeError(w, errNotFound) })
	if s.cfg.UI != nil {
		s.mux.Handle("/", s.cfg.UI)
	}
}
