package access_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/access"
)

// Tokens made before rules 13 recorded no makers: their lineage is followed
// by name through the tokens there are, and a maker that is gone (or whose
// name a later token took) is unknown, which refuses the approval rather
// than take the approver for someone else.
func TestALineageWithAGoneMakerRefuses(t *testing.T) {
	at := func(min int) time.Time { return time.Date(2026, 12, 1, 9, min, 0, 0, time.UTC) }
	root := access.Token{ID: "t0", Name: access.BootstrapTokenName, Role: access.Admin, CreatedAt: at(0), CreatedBy: access.BootstrapActor}
	a2 := access.Token{ID: "t1", Name: "管理员甲", Role: access.Admin, CreatedAt: at(1), CreatedBy: root.Name}
	// 临时管理 (made by 管理员甲) made 影子审批 and was revoked: not listed.
	shadow := access.Token{ID: "t3", Name: "影子审批", Role: access.Approver, CreatedAt: at(3), CreatedBy: "临时管理"}
	other := access.Token{ID: "t4", Name: "李四", Role: access.Approver, CreatedAt: at(4), CreatedBy: root.Name}
	// A later token took the revoked one's name: it is not the maker.
	reused := access.Token{ID: "t5", Name: "临时管理", Role: access.Admin, CreatedAt: at(5), CreatedBy: other.Name}
	toks := []access.Token{root, a2, shadow, other, reused}

	assert.Equal(t, access.Lineage{{ID: "t1", Name: "管理员甲", Holder: "管理员甲"}, {ID: "t0", Name: root.Name, Holder: root.Name},
		{Name: access.BootstrapActor, Holder: access.BootstrapActor}}, access.LineageOf(toks, a2.Name))
	gone := access.LineageOf(toks, shadow.Name)
	assert.Equal(t, access.Lineage{{ID: "t3", Name: "影子审批", Holder: "影子审批"}, {Name: "临时管理", Unknown: true}}, gone)

	err := access.Apart(gone, access.LineageOf(toks, a2.Name), "activation A000024 was requested by 管理员甲")
	require.Error(t, err)
	assert.True(t, muster.IsCode(err, muster.EForbidden), "%v", err)
	assert.Contains(t, err.Error(), `cannot tell who made the token "影子审批": its maker "临时管理" holds no token any more`)
	assert.Contains(t, err.Error(), "ask an approver whose token another admin made")

	// Recorded makers are the lineage, whatever was revoked since.
	recorded := shadow
	recorded.Makers = access.Lineage{{ID: "t2", Name: "临时管理", Holder: "临时管理"}, {ID: "t1", Name: "管理员甲", Holder: "管理员甲"}}
	err = access.Apart(access.LineageOf([]access.Token{root, a2, recorded}, shadow.Name), access.LineageOf(toks, a2.Name), "activation A000024 was requested by 管理员甲")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `管理员甲, who holds the token "管理员甲", made the token "影子审批" through "临时管理"`)

	// Two tokens the same admin made for two people are independent.
	assert.NoError(t, access.Apart(access.LineageOf(toks, other.Name), access.LineageOf(toks, a2.Name), "activation A000024 was requested by 管理员甲"))
	// The first admin token made both.
	err = access.Apart(access.LineageOf(toks, root.Name), access.LineageOf(toks, a2.Name), "activation A000024 was requested by 管理员甲")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "approves no one's request")
}
