package main

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"muster/cluster"
)

// A node warns when the providers' webhooks and the answer links reach one
// member only: --public-url left to the node's own address, or set to
// another member's, in a cluster of more than one (exploratory finding O2:
// the replies and delivery reports of that node's restarts were lost, with
// nothing said). A load balancer's URL, or a cluster of one, is not warned
// of.
func TestWebhooksOnOneNodeAreNamed(t *testing.T) {
	three := []cluster.ServerStatus{
		{ID: "n1", HTTPAddr: "http://10.0.0.1:8080"},
		{ID: "n2", HTTPAddr: "http://10.0.0.2:8080/"},
		{ID: "n3", HTTPAddr: "http://10.0.0.3:8080"},
	}
	assert.Equal(t, "n2", webhooksOnOneNode("http://10.0.0.2:8080", "n1", "http://10.0.0.1:8080", false, three), "another member's address")
	assert.Equal(t, "n1", webhooksOnOneNode("http://10.0.0.1:8080", "n1", "http://10.0.0.1:8080", false, three), "its own (the default)")
	assert.Equal(t, "n1", webhooksOnOneNode("http://10.0.0.1:8080", "n1", "http://10.0.0.1:8080", true, nil), "joining: its own")
	assert.Empty(t, webhooksOnOneNode("https://muster.example.gov", "n1", "http://10.0.0.1:8080", false, three), "a load balancer")
	assert.Empty(t, webhooksOnOneNode("http://10.0.0.1:8080", "n1", "http://10.0.0.1:8080", false, three[:1]), "a cluster of one")
}
