package cluster

import "github.com/hashicorp/raft"

// TransferLeadershipTo has this node, the leader, hand leadership to the
// voter id at raftAddr, as handOver does.
func (n *Node) TransferLeadershipTo(id, raftAddr string) error {
	return n.raft.LeadershipTransferToServer(raft.ServerID(id), raft.ServerAddress(raftAddr)).Error()
}
