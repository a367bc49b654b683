package api

import (
	"github.com/gin-gonic/gin"

	"muster/access"
	"muster/drills"
	"muster/notify"
)

// routes registers every route. It is the one place to add routes: each
// authenticated route goes through s.handle with the action it requires
// (or s.handleAnyRole, for one every token may use), and must also be
// described in openapi.json (TestOpenAPIMatchesRoutes holds the two
// together, action included).
func (s *Server) routes() {
	e := s.engine

	// Operations: no token, no body; /metrics takes a token when so
	// configured (its gauges name the raft term and index, and its counters
	// how many are being called up).
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	if s.cfg.MetricsNeedToken {
		e.GET("/metrics", s.authenticate, s.require(access.ActRead), s.metrics())
	} else {
		e.GET("/metrics", s.metrics())
	}

	// The web console: static files, no token; its data comes from /api/v1
	// with the token the user gives it.
	con := newConsole()
	e.GET("/", s.consolePage(con))
	e.GET("/console/*file", s.consoleAsset(con))

	// Node-to-node endpoints; the cluster checks its own key.
	internal := gin.WrapH(s.deps.Cluster.InternalHandler())
	e.Any("/internal/*path", internal)

	// Provider webhooks: no token; each is checked by its signature.
	e.POST(hookSMSStatus, s.smsStatus)
	e.POST(hookSMSInbound, s.smsInbound)
	e.POST(notify.HookVoice+":attempt", s.voiceTwiML)
	e.POST(notify.HookVoice+":attempt/gather", s.voiceGather)
	e.POST(notify.HookVoiceStatus, s.voiceStatus)

	// The responder page: the one-tap answer link of a call-up SMS. No
	// token; the link itself is the credential.
	rp := newResponder(s.cfg.CAPZone)
	e.GET(notify.AnswerLinkPath+"page.css", s.responderStyle(rp))
	e.GET(notify.AnswerLinkPath+":token", s.responderPage(rp))
	e.POST(notify.AnswerLinkPath+":token", s.responderAnswer(rp))

	v1 := e.Group("/api/v1")
	v1.GET("/openapi.json", s.openAPI)

	// Authenticated routes with the default body limit. A group that takes
	// bigger uploads (roster imports) gets its own s.authed(limit).
	api := s.authed(v1, s.cfg.MaxBody)

	s.handleAnyRole(api, "GET", "/whoami", s.whoami)
	s.handle(api, "GET", "/cluster/status", access.ActRead, s.clusterStatus)
	s.handle(api, "POST", "/cluster/join", access.ActAdmin, s.clusterJoin)
	s.handle(api, "POST", "/cluster/remove", access.ActAdmin, s.clusterRemove)
	s.handle(api, "GET", "/backup", access.ActAdmin, s.backup)
	s.handle(api, "GET", "/audit", access.ActAdmin, s.listAudit)
	s.handle(api, "POST", "/audit/cut", access.ActAdmin, s.cutAudit)

	s.handle(api, "GET", "/tokens", access.ActAdmin, s.listTokens)
	s.handle(api, "POST", "/tokens", access.ActAdmin, s.createToken)
	s.handle(api, "DELETE", "/tokens/:id", access.ActAdmin, s.revokeToken)

	s.handle(api, "GET", "/regions", access.ActRead, s.listRegions)
	s.handle(api, "GET", "/regions/:code", access.ActRead, s.getRegion)
	s.handle(s.authed(v1, RegionImportMaxBody), "POST", "/regions/import", access.ActEditRoster, s.importRegions)

	s.handle(api, "GET", "/people", access.ActRead, s.listPeople)
	s.handle(api, "POST", "/people", access.ActEditRoster, s.createPerson)
	s.handle(api, "GET", "/people/:id", access.ActRead, s.getPerson)
	s.handle(api, "PUT", "/people/:id", access.ActEditRoster, s.updatePerson)
	s.handle(api, "DELETE", "/people/:id", access.ActEditRoster, s.deletePerson)
	s.handle(s.authed(v1, RosterImportMaxBody), "POST", "/roster/import", access.ActEditRoster, s.importRoster)

	s.handle(api, "GET", "/plans", access.ActRead, s.listPlans)
	s.handle(api, "POST", "/plans", access.ActEditPlans, s.applyPlan)
	s.handle(api, "GET", "/plans/:id", access.ActRead, s.getPlan)
	s.handle(api, "GET", "/plans/:id/versions", access.ActRead, s.listPlanVersions)
	s.handle(api, "GET", "/plans/:id/versions/:version", access.ActRead, s.getPlanVersion)

	s.handle(api, "POST", "/activations", access.ActActivate, s.createActivation)
	s.handle(api, "GET", "/activations", access.ActRead, s.listActivations)
	s.handle(api, "GET", "/activations/:id", access.ActRead, s.getActivation)
	s.handle(api, "GET", "/activations/:id/recipients", access.ActRead, s.listRecipients)
	s.handle(api, "GET", "/activations/:id/board", access.ActRead, s.getBoard)
	s.handle(api, "GET", "/activations/:id/events", access.ActRead, s.activationEvents)
	s.handle(api, "GET", "/activations/:id/notes", access.ActRead, s.listNotes)
	s.handle(api, "GET", "/activations/:id/escalation", access.ActRead, s.getEscalation)
	s.handle(api, "POST", "/activations/:id/stand-down", access.ActActivate, s.standDown)
	s.handle(api, "POST", "/activations/:id/recipients/:person/cancel", access.ActActivate, s.cancelRecipient)
	s.handle(api, "POST", "/activations/:id/approve", access.ActApprove, s.approveActivation)
	s.handle(api, "POST", "/activations/:id/reject", access.ActApprove, s.rejectActivation)
	s.handle(api, "POST", "/activations/:id/retract", access.ActActivate, s.retractActivation)
	s.handle(api, "GET", "/activations/:id/cap", access.ActRead, s.activationCAP)
	s.handle(api, "GET", "/inbound/audit", access.ActRead, s.listInboundAudit)
	s.handle(api, "GET", "/modes", access.ActRead, s.listModes)
	s.handle(api, "POST", "/modes/:region/end-recovery", access.ActActivate, s.endRecovery)

	s.handle(api, "POST", "/warnings", access.ActActivate, s.issueWarning)
	s.handle(api, "GET", "/warnings", access.ActRead, s.listWarnings)
	s.handle(api, "GET", "/warnings/:id", access.ActRead, s.getWarning)
	s.handle(api, "POST", "/warnings/:id/lift", access.ActActivate, s.liftWarning)
	s.handle(api, "GET", "/warnings/:id/cap", access.ActRead, s.warningCAP)
	s.handle(s.authed(v1, CAPImportMaxBody), "POST", "/cap", access.ActImportCAP, s.importCAP)

	s.handle(api, "POST", "/drills", access.ActDrill, s.withDrills(s.createDrill))
	s.handle(api, "GET", "/drills", access.ActRead, s.withDrills(s.listDrills))
	s.handle(api, "GET", "/drills/:id", access.ActRead, s.withDrills(s.getDrill))
	s.handle(api, "POST", "/drills/:id/pause", access.ActDrill, s.withDrills(s.updateDrill(drills.ActionPause)))
	s.handle(api, "POST", "/drills/:id/resume", access.ActDrill, s.withDrills(s.updateDrill(drills.ActionResume)))
	s.handle(api, "DELETE", "/drills/:id", access.ActDrill, s.withDrills(s.updateDrill(drills.ActionDelete)))
	s.handle(api, "PATCH", "/drills/:id", access.ActDrill, s.withDrills(s.changeDrill))
	s.handle(api, "POST", "/drills/:id/run", access.ActDrill, s.withDrills(s.runDrill))
	s.handle(api, "GET", "/drill-runs", access.ActRead, s.withDrills(s.listDrillRuns))
	s.handle(api, "GET", "/drill-runs/:id", access.ActRead, s.withDrills(s.getDrillRun))
	s.handle(api, "POST", "/drill-runs/:id/stand-down", access.ActDrill, s.withDrills(s.standDownDrillRun))
	s.handle(api, "POST", "/drill-runs/:id/retract", access.ActDrill, s.withDrills(s.retractDrillRun))
	s.handle(api, "GET", "/drills/overdue", access.ActRead, s.withDrills(s.drillsOverdue))
	s.handle(api, "GET", "/drills/trend", access.ActRead, s.withDrills(s.drillTrend))
	s.handle(api, "GET", "/drill-runs/:id/metrics", access.ActRead, s.withDrills(s.drillMetrics))
	s.handle(api, "GET", "/drill-runs/:id/report", access.ActRead, s.withDrills(s.drillReport))
	s.handle(api, "POST", "/drill-runs/:id/findings", access.ActDrill, s.withDrills(s.addFinding))
	s.handle(api, "GET", "/drill-runs/:id/findings", access.ActRead, s.withDrills(s.listFindings))
	s.handle(api, "GET", "/drill-findings", access.ActRead, s.withDrills(s.listFindings))
	s.handle(api, "GET", "/drill-findings/open", access.ActRead, s.withDrills(s.openFindings))
	s.handle(api, "GET", "/drill-findings/:id", access.ActRead, s.withDrills(s.getFinding))
	s.handle(api, "PATCH", "/drill-findings/:id", access.ActDrill, s.withDrills(s.updateFinding))
}

// authed returns a group under parent whose requests pass, in order, the
// body limit, bearer authentication and the consistency parameter.
func (s *Server) authed(parent *gin.RouterGroup, maxBody int64) *gin.RouterGroup {
	return parent.Group("", limitBody(s, maxBody), s.authenticate, s.readConsistency)
}

// handle registers an authenticated route that requires action a.
func (s *Server) handle(g *gin.RouterGroup, method, path string, a access.Action, h gin.HandlerFunc) {
	g.Handle(method, path, s.require(a), h)
	s.actions[method+" "+joinPath(g.BasePath(), path)] = a
}

// handleAnyRole registers an authenticated route that every token may use,
// whatever its role; it is recorded with no action (openapi.json names
// none).
func (s *Server) handleAnyRole(g *gin.RouterGroup, method, path string, h gin.HandlerFunc) {
	g.Handle(method, path, h)
	s.actions[method+" "+joinPath(g.BasePath(), path)] = ""
}

func joinPath(base, path string) string {
	switch {
	case base == "/" || base == "":
		return path
	case path == "" || path == "/":
		return base
	}
	return base + path
}
