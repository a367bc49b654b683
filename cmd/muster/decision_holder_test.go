package main

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"muster/notify"
)

// A decision names the person who held its token when another than the
// token's name, so that a token named as the requester's revoked one was
// does not read as the requester deciding on their own request.
func TestDeciderNamesTheHolder(t *testing.T) {
	assert.Equal(t, "张三 (李四)", decider(notify.Decision{By: "张三", Holder: "李四"}))
	assert.Equal(t, "张三", decider(notify.Decision{By: "张三", Holder: "张 三"}))
	assert.Equal(t, "值班", decider(notify.Decision{By: "值班"}), "before rules 13 no holder was kept")
}
