package cluster

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"muster"
)

// DefaultDiskReserve is the free disk space a node keeps for call-ups
// unless configured otherwise (Config.DiskReserve).
const DefaultDiskReserve = 256 << 20

// roomTimeout bounds how long CheckRoom waits for the members' answers.
const roomTimeout = 3 * time.Second

// Disk is a node's data-directory disk as it reports it.
type Disk struct {
	Free    int64 `json:"free"`    // bytes writers may still use
	Reserve int64 `json:"reserve"` // bytes it keeps for call-ups
	State   int64 `json:"state"`   // bytes of its state, which each snapshot copies
}

// String describes the disk for people: "77.8 GiB free, 256 MiB kept for
// call-ups, state 25 MiB".
func (d Disk) String() string {
	return fmt.Sprintf("%s free, %s kept for call-ups, state %s", sizeText(d.Free), sizeText(d.Reserve), sizeText(d.State))
}

// disk reads this node's disk; false when its free space cannot be read.
func (n *Node) disk() (Disk, bool) {
	read := n.cfg.DiskFree
	if read == nil {
		read = diskFree
	}
	free, err := read(n.cfg.DataDir)
	if err != nil {
		return Disk{}, false
	}
	reserve := n.cfg.DiskReserve
	switch {
	case reserve == 0:
		reserve = DefaultDiskReserve
	case reserve < 0:
		reserve = 0
	}
	d := Disk{Free: free, Reserve: reserve}
	_ = n.fsm.View(func(tx *bolt.Tx) error {
		d.State = tx.Size()
		return nil
	})
	return d, true
}

// CheckRoom refuses r with EStorage when a member of the cluster has less
// free disk than r is expected to take (plus, when r keeps the reserve,
// room to snapshot the member's state and the member's reserve). Every member applies every entry, and one whose disk fills
// while applying a committed entry stops and fails on it again at every
// start: the write must be refused before it is proposed. This node reads
// its own disk and asks the others (node-to-node, with the cluster key); a
// member that does not answer within a few seconds is passed over, as it
// is down or cut off and cannot be told apart from a slow one.
func (n *Node) CheckRoom(ctx context.Context, r muster.Room) error {
	servers, err := n.servers()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, roomTimeout)
	defer cancel()
	type answer struct {
		id   string
		disk Disk
		err  error
	}
	answers := make([]answer, len(servers))
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Go(func() {
			d, err := n.diskOf(ctx, string(s.ID))
			answers[i] = answer{string(s.ID), d, err}
		})
	}
	wg.Wait()
	var short []string
	for _, a := range answers {
		if a.err != nil {
			n.logger.Warn("disk room: a member's disk is unknown; passed over", "member", a.id, "what", r.What, "err", a.err)
			continue
		}
		need := r.Bytes
		if r.Reserve {
			need += a.disk.State + a.disk.Reserve
		}
		if a.disk.Free < need {
			line := fmt.Sprintf("%s has %s free", a.id, sizeText(a.disk.Free))
			if r.Reserve { // what decides it, part by part
				line += fmt.Sprintf(" and needs %s (%s for it, %s for a snapshot, the call-up reserve %s)",
					sizeText(need), sizeText(r.Bytes), sizeText(a.disk.State), sizeText(a.disk.Reserve))
			}
			short = append(short, line)
		}
	}
	if len(short) == 0 {
		return nil
	}
	slices.Sort(short)
	want := "about " + sizeText(r.Bytes) + " on every node"
	if r.Reserve {
		want += ", besides room for a snapshot of its state and the disk it keeps for call-ups (--disk-reserve)"
	}
	where := "on its data disk"
	if len(short) > 1 {
		where = "on their data disks"
	}
	wayOut := "free space or grow the disk"
	if r.Reserve {
		wayOut = "free space, grow the disk or lower that node's --disk-reserve"
	}
	return muster.Errorf(muster.EStorage, "not enough disk for %s, which needs %s: %s %s. Nothing was changed; %s, then try again",
		r.What, want, strings.Join(short, "; "), where, wayOut)
}

// diskOf is member id's disk: this node's own, read here, or another's,
// asked over node-to-node HTTP.
func (n *Node) diskOf(ctx context.Context, id string) (Disk, error) {
	if id == n.cfg.NodeID {
		if d, ok := n.disk(); ok {
			return d, nil
		}
		return Disk{}, fmt.Errorf("free space of %s cannot be read", n.cfg.DataDir)
	}
	st, err := n.statusOf(ctx, id)
	if err != nil {
		return Disk{}, err
	}
	if st.Disk == nil {
		return Disk{}, fmt.Errorf("it does not report its disk")
	}
	return *st.Disk, nil
}

// statusOf asks member id for its status over node-to-node HTTP, at the
// HTTP address its record holds; this node's own is read here.
func (n *Node) statusOf(ctx context.Context, id string) (Status, error) {
	if id == n.cfg.NodeID {
		return n.Status(), nil
	}
	info, ok := n.nodeInfo(id)
	switch {
	case !ok || info.HTTPAddr == "":
		return Status{}, fmt.Errorf("no HTTP address on record")
	case n.cfg.ClusterKey == "":
		return Status{}, fmt.Errorf("this node has no cluster key to ask with")
	}
	return n.statusAt(ctx, info.HTTPAddr)
}

// sizeText writes a byte count for people: "1.9 MiB", "812 MiB", "1.9 GiB".
func sizeText(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	case b >= 10<<20:
		return fmt.Sprintf("%d MiB", b>>20)
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%d KiB", b>>10)
	}
	return fmt.Sprintf("%d B", b)
}
