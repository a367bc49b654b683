package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"muster"
	"muster/cluster"
)

// AppliedIndexHeader carries, on a backup, the raft index the copy reflects.
const AppliedIndexHeader = "X-Muster-Applied-Index"

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
	if err := s.deps.Cluster.JoinByHand(c.Request.Context(), info); err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, info)
}

// removeRequest is the body of POST /cluster/remove.
type removeRequest struct {
	ID string `json:"id"`
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
	if err := s.deps.Cluster.Remove(c.Request.Context(), req.ID); err != nil {
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
	size, err := f.Seek(0, io.SeekCurrent)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		s.writeError(c, fmt.Errorf("backup: rewind spool file: %w", err))
		return
	}
	node := s.deps.Cluster.Status().NodeID
	c.DataFromReader(http.StatusOK, size, "application/octet-stream", f, map[string]string{
		AppliedIndexHeader:    strconv.FormatUint(idx, 10),
		"Content-Disposition": fmt.Sprintf(`attachment; filename="muster-%s-%d.db"`, node, idx),
		"Cache-Control":       "no-store",
	})
}
