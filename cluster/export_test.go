package cluster

// SpeakLegacyRaft makes a node configured with c speak raft without the
// handshake, as a muster before it did.
func SpeakLegacyRaft(c *Config) { c.legacyRaft = true }
