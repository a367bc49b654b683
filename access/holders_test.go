package access_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"muster/access"
)

// Holders.At names who held a token of a name at a time from the token
// records: a name reused after a revoke is the revoked token's holder
// until its revoke (the revoke's own entry included) and the new one's
// from its creation; before any record of the name, or between a revoke
// and the next token, it cannot be told.
func TestHoldersTellWhoHeldANameWhen(t *testing.T) {
	at := func(min int) time.Time { return time.Date(2026, 12, 7, 9, min, 0, 0, time.UTC) }
	first := access.Token{ID: "T1", Name: "张三", Holder: "张三丰", CreatedAt: at(10)}
	second := access.Token{ID: "T2", Name: "张三", Holder: "李四", CreatedAt: at(30)}
	plain := access.Token{ID: "T3", Name: "值班", CreatedAt: at(0)}
	h := access.NewHolders([]access.Token{second, plain}, []access.RevokedToken{{Token: first, RevokedAt: at(20), RevokedBy: "admin"}})
	for _, tc := range []struct {
		name   string
		at     time.Time
		holder string
		ok     bool
	}{
		{"张三", at(5), "", false},
		{"张三", at(10), "张三丰", true},
		{"张三", at(20), "张三丰", true},
		{"张三", at(25), "", false},
		{"张三", at(30), "李四", true},
		{"张三", at(59), "李四", true},
		{"值班", at(1), "值班", true},
		{"scheduler", at(1), "", false},
	} {
		holder, ok := h.At(tc.name, tc.at)
		assert.Equal(t, tc.ok, ok, "%s at %s", tc.name, tc.at)
		assert.Equal(t, tc.holder, holder, "%s at %s", tc.name, tc.at)
	}
}
