package cluster

// ClockedAuth makes a node configured with c sign and check node-to-node
// requests by c.Clock, as a node whose system clock is off does.
func ClockedAuth(c *Config) { c.clockedAuth = true }
