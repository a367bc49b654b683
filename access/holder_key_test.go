package access_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/access"
)

// One person's name written twice — in another case, with other spaces,
// in full-width letters — is one holder: the tokens held under both are
// not two independent people, whichever way the names differ.
func TestApartTellsOnePersonByTheirName(t *testing.T) {
	at := func(min int) time.Time { return time.Date(2026, 12, 1, 9, min, 0, 0, time.UTC) }
	root := access.Token{ID: "t0", Name: access.BootstrapTokenName, Role: access.Admin, CreatedAt: at(0), CreatedBy: access.BootstrapActor}
	admin := access.Token{ID: "t1", Name: "管理员甲", Role: access.Admin, CreatedAt: at(1), CreatedBy: root.Name}
	commander := access.Token{ID: "t2", Name: "带班领导", Holder: "Zhang San", Role: access.Commander, CreatedAt: at(2), CreatedBy: admin.Name}
	other := access.Token{ID: "t9", Name: "值班领导", Holder: "Li Si", Role: access.Approver, CreatedAt: at(9), CreatedBy: admin.Name}
	const who = "activation A000031 was requested by Zhang San"
	for _, holder := range []string{"zhang san", "Zhang  San", "ZHANG\tSAN", "ｚｈａｎｇ　ｓａｎ", "ＺＨＡＮＧ ＳＡＮ"} {
		t.Run(holder, func(t *testing.T) {
			approver := access.Token{ID: "t3", Name: "审批员", Holder: holder, Role: access.Approver, CreatedAt: at(3), CreatedBy: admin.Name}
			toks := []access.Token{root, admin, commander, approver, other}
			err := access.Apart(access.LineageOf(toks, approver.Name), access.LineageOf(toks, commander.Name), who)
			require.Error(t, err, "%q holds both tokens", holder)
			assert.True(t, muster.IsCode(err, muster.EForbidden), "%v", err)
			assert.Contains(t, err.Error(), "another person must approve")

			// A token they made is theirs to approve with, too.
			made := access.Token{ID: "t4", Name: "代审批", Role: access.Approver, CreatedAt: at(4), CreatedBy: approver.Name}
			toks = append(toks, made)
			err = access.Apart(access.LineageOf(toks, made.Name), access.LineageOf(toks, commander.Name), who)
			require.Error(t, err, "%q made the approver's token", holder)
			assert.Contains(t, err.Error(), holder+`, who holds the token "审批员", made the token "代审批"`, "the maker's holder as written")
			err = access.Apart(access.LineageOf(toks, commander.Name), access.LineageOf(toks, made.Name), "activation A000032 was requested by 代审批")
			require.Error(t, err, "the other way round")
			assert.Contains(t, err.Error(), holder+`, who holds the token "审批员", made the token "代审批"`)

			assert.NoError(t, access.Apart(access.LineageOf(toks, other.Name), access.LineageOf(toks, commander.Name), who), "Li Si is another person")
		})
	}
}

func TestHolderKey(t *testing.T) {
	for _, tc := range []struct{ a, b string }{
		{"Zhang San", " zhang  san "},
		{"Zhang San", "ＺＨＡＮＧ　ＳＡＮ"},
		{"张三", "张三　"},
		{"值班员Ａ1", "值班员a１"},
		{"张三", "张 三"},
		{"张三", "张　 三"},
		{"王五", "王·五"},
		{"王五", "王・五"},
		{"Zhang San", "Zhang-San"},
		{"Zhang San", "zhang_san"},
		{"Zhang San", "Zhang. San"},
	} {
		assert.Equal(t, access.HolderKey(tc.a), access.HolderKey(tc.b), "%q and %q", tc.a, tc.b)
		assert.True(t, access.SameHolder(tc.a, tc.b), "%q and %q", tc.a, tc.b)
	}
	for _, tc := range []struct{ a, b string }{
		{"Zhang San", "Zhang Sen"},
		{"张三", "张 三丰"},
		{"Zhang 三", "Zhang三"},
		{"Zhang San", "ZhangSan"},
	} {
		assert.False(t, access.SameHolder(tc.a, tc.b), "%q and %q", tc.a, tc.b)
	}
	assert.Equal(t, "zhang san", access.HolderKey(" ＺＨＡＮＧ \t San "))
}
