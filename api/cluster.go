package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"muster"
	"muster/cluster"
)

// AppliedIndexHeader carries, on a backup, the raft index the copy reflects.
const AppliedIndexHeader = "X-Muster-Applied-Index"

// The headers a backup carries besides AppliedIndexHeader, so that a copy
// from a node that is not ready (no known leader, catching up, removed)
// is not taken for the cluster's: ReadyHeader is "true" or "false" as
// /readyz would answer, NotReadyHeader why not, CommitIndexHeader the
// commit index the node knows, and LeaderHeader and LeaderHTTPHeader the
// leader it knows (ID and HTTP address), if any.
const (
	ReadyHeader       = "X-Muster-Ready"
	NotReadyHeader    = "X-Muster-Not-Ready"
	CommitIndexHeader = "X-Muster-Commit-Index"
	LeaderHeader      = "X-Muster-Leader"
	LeaderHTTPHeader  = "X-Muster-Leader-Http"
)

// healthz answers 200 whenever the process serves HTTP.
func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyz answers 200 when the node knows a leader and its state is within
// MaxLag entries of the commit index, 503 with the reason otherwise.
func (s *Server) readyz(c *gin.Context) {
	ok, reason := s.deps.Cluster.Ready(s.cfg.MaxLag)
	if !ok {
		s.writeError(c, muster.Errorf(muster.EUnavailable, "not ready: %s", reason))
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}

func (s *Server) metrics() gin.HandlerFunc {
	return gin.WrapH(promhttp.HandlerFor(s.cfg.Metrics, promhttp.HandlerOpts{
		ErrorLog:      slogPrinter{s},
		ErrorHandling: promhttp.ContinueOnError,
	}))
}

// slogPrinter lets promhttp report gathering errors through slog.
type slogPrinter struct{ s *Server }

func (p slogPrinter) Println(v ...any) { p.s.logger.Warn("metrics: " + fmt.Sprint(v...)) }

func (s *Server) clusterStatus(c *gin.Context) {
	c.JSON(http.StatusOK, s.deps.Cluster.Status())
}

func (s *Server) clusterJoin(c *gin.Context) {
	var info cluster.NodeInfo
	if err := decodeJSON(c, &info); err != nil {
		s.writeError(c, err)
		return
	}
	if info.ID == "" || info.RaftAddr == "" {
		s.writeError(c, muster.Errorf(muster.EInvalid, "join: id and raft_addr are required (http_addr too, for forwarding)"))
		return
	}
	if err := s.deps.Cluster.JoinByHand(c.Request.Context(), identity(c).Name, info); err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, info)
}

// removeRequest is the body of POST /cluster/remove.
type removeRequest struct {
	ID string `json:"id"`
	// Force removes the member even when the voters left would not hold a
	// quorum among those that answer the leader (cluster.RemoveRequest).
	Force bool `json:"force,omitempty"`
}

func (s *Server) clusterRemove(c *gin.Context) {
	var req removeRequest
	if err := decodeJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	if req.ID == "" {
		s.writeError(c, muster.Errorf(muster.EInvalid, "remove: id is required"))
		return
	}
	if err := s.deps.Cluster.RemoveMember(c.Request.Context(), cluster.RemoveRequest{ID: req.ID, Force: req.Force, Actor: identity(c).Name}); err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, req)
}

// backup sends a consistent copy of this node's state file. The copy is
// spooled to BackupDir first, so the applied index and the length are known
// before the first byte is sent and a failed copy is a clean 500, never a
// truncated 200.
func (s *Server) backup(c *gin.Context) {
	if s.deps.Backup == nil {
		s.writeError(c, errors.New("backup: api.Deps.Backup is not wired (pass node.FSM())"))
		return
	}
	f, err := os.CreateTemp(s.cfg.BackupDir, "muster-backup-*.db")
	if err != nil {
		s.writeError(c, fmt.Errorf("backup: spool file: %w", err))
		return
	}
	defer os.Remove(f.Name())
	defer f.Close()
	idx, err := s.deps.Backup.Backup(f)
	if err != nil {
		s.writeError(c, fmt.Errorf("backup: %w", err))
		return
	}
	s.recordBackup(c, idx)
	size, err := f.Seek(0, io.SeekCurrent)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		s.writeError(c, fmt.Errorf("backup: rewind spool file: %w", err))
		return
	}
	st := s.deps.Cluster.Status()
	ready, why := s.deps.Cluster.Ready(s.cfg.MaxLag)
	headers := map[string]string{
		AppliedIndexHeader:    strconv.FormatUint(idx, 10),
		ReadyHeader:           strconv.FormatBool(ready),
		CommitIndexHeader:     strconv.FormatUint(st.CommitIndex, 10),
		"Content-Disposition": fmt.Sprintf(`attachment; filename="muster-%s-%d.db"`, st.NodeID, idx),
		"Cache-Control":       "no-store",
	}
	if !ready {
		headers[NotReadyHeader] = strings.Join(strings.Fields(why), " ")
	}
	if st.LeaderID != "" && st.LeaderID != st.NodeID {
		headers[LeaderHeader] = st.LeaderID
		for _, m := range st.Servers {
			if m.ID == st.LeaderID && m.HTTPAddr != "" {
				headers[LeaderHTTPHeader] = m.HTTPAddr
			}
		}
	}
	c.DataFromReader(http.StatusOK, size, "application/octet-stream", f, headers)
}

// backupRecordTimeout bounds recording a backup in the audit chain: the copy
// is sent whether or not it could be recorded.
const backupRecordTimeout = 5 * time.Second

// recordBackup logs that the token in c took a copy of this node's state at
// raft index idx, and, on a node that is ready, records it in the audit
// chain (cluster.CmdBackupTaken, from rules 13): a backup is a copy of every
// phone number, and reads leave no entry otherwise. A node that is not
// ready (no leader to write through) or a refusal only logs why.
func (s *Server) recordBackup(c *gin.Context, idx uint64) {
	who := identity(c)
	s.logger.Info("backup taken", "token", who.TokenID, "name", who.Name, "applied_index", idx)
	if ok, why := s.deps.Cluster.Ready(s.cfg.MaxLag); !ok {
		s.logger.Warn("backup not recorded in the audit chain: this node is not ready", "name", who.Name, "why", why)
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), backupRecordTimeout)
	defer cancel()
	if err := s.deps.Cluster.RecordBackup(ctx, who.Name, idx); err != nil {
		s.logger.Warn("backup not recorded in the audit chain", "name", who.Name, "err", err)
	}
}
