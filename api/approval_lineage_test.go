package api_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/access"
	"muster/examples"
	"muster/notify"
	"muster/plans"
)

// A level I–II LIVE call-up needs people independent of each other: no
// approval counts from someone whose token made the requester's (or a
// token up its chain), nor, with approvals: 3, from someone whose token
// made an earlier approver's, and revoking a token in between hides
// neither. Two approvers an admin made for two people are independent.
func TestApprovalsComeFromIndependentPeople(t *testing.T) {
	f := newFixture(t, 1)
	h := f.handler(f.c.Nodes[0])
	res := do(t, h, request{method: "POST", path: "/api/v1/regions/import", token: f.root, body: bytes.NewReader(examples.RegionsCSV())})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	files, err := examples.Plans()
	require.NoError(t, err)
	// Level I needs three people here (the requester and two more), level II two.
	three := strings.Replace(string(files[0].Data), "approvals: 2", "approvals: 3", 1)
	require.NotEqual(t, string(files[0].Data), three)
	res = do(t, h, request{method: "POST", path: "/api/v1/plans?filename=" + files[0].Name, token: f.root, body: strings.NewReader(three)})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	regions, err := examples.Regions()
	require.NoError(t, err)
	var roster bytes.Buffer
	require.NoError(t, examples.GenerateRoster(&roster, 600, 3, examples.Grids(regions)))
	res = do(t, h, request{method: "POST", path: "/api/v1/roster/import", token: f.root, body: bytes.NewReader(roster.Bytes())})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)

	request1 := func(t *testing.T, token, level, region string) plans.ActivationID {
		t.Helper()
		res := do(t, h, request{method: "POST", path: "/api/v1/activations", token: token, body: jsonBody(map[string]any{
			"plan_id": "flood-control", "regions": []string{region}, "level": level, "purpose": "LIVE", "reason": "特大暴雨"})})
		require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
		var a notify.Activation
		res.decode(t, &a)
		require.Equal(t, notify.StatusPendingApproval, a.Status)
		return a.ID
	}
	// approve asks for the preview with token, then approves its count:
	// the answer to whichever was refused, or to the approval.
	approve := func(t *testing.T, token string, id plans.ActivationID) response {
		t.Helper()
		path := "/api/v1/activations/" + string(id) + "/approve"
		res := do(t, h, request{method: "POST", path: path, token: token, body: jsonBody(map[string]any{"dry_run": true})})
		if res.Code != http.StatusOK {
			return res
		}
		var p notify.Preview
		res.decode(t, &p)
		require.Positive(t, p.Total)
		return do(t, h, request{method: "POST", path: path, token: token, body: jsonBody(map[string]any{"recipients": p.Total})})
	}
	// refused checks that token may neither look at id as its approver
	// nor approve it, for the reason given.
	refused := func(t *testing.T, token string, id plans.ActivationID, why ...string) {
		t.Helper()
		path := "/api/v1/activations/" + string(id) + "/approve"
		for _, body := range []map[string]any{{"dry_run": true}, {"recipients": 1}} {
			res := do(t, h, request{method: "POST", path: path, token: token, body: jsonBody(body)})
			require.Equal(t, http.StatusForbidden, res.Code, "%v: %s", body, res.Body)
			for _, w := range why {
				assert.Contains(t, res.errorBody(t).Message, w)
			}
		}
	}
	status := func(t *testing.T, id plans.ActivationID) notify.ActivationStatus {
		t.Helper()
		res := do(t, h, request{method: "GET", path: "/api/v1/activations/" + string(id), token: f.root})
		require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
		var st notify.ActivationStatus
		res.decode(t, &st)
		return st
	}

	admin, _ := createToken(t, h, f.root, "管理员甲", access.Admin)
	commander, _ := createToken(t, h, f.root, "张三", access.Commander)
	approver, _ := createToken(t, h, f.root, "李四", access.Approver)
	other, _ := createToken(t, h, f.root, "王五", access.Approver)

	t.Run("S1 the maker of the requester's token", func(t *testing.T) {
		puppet, _ := createToken(t, h, admin, "傀儡指挥", access.Commander) // 管理员甲 was shown its secret
		sibling, _ := createToken(t, h, admin, "甲造的审批员", access.Approver)
		id := request1(t, puppet, "II", "990101")
		refused(t, admin, id, `管理员甲, who holds the token "管理员甲", made the token "傀儡指挥"`)
		refused(t, f.root, id, `made the token "傀儡指挥" through "管理员甲"`, "approves no one's request")
		// The README's tour: the first admin made the commander's token.
		byRoot := request1(t, commander, "II", "990104")
		refused(t, f.root, byRoot, `bootstrap-admin, who holds the token "bootstrap-admin", made the token "张三"`)
		assert.Equal(t, notify.StatusPendingApproval, status(t, id).Status)
		// Another token the same admin made for someone else is another person.
		res := approve(t, sibling, id)
		require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
		assert.Equal(t, notify.StatusActive, status(t, id).Status)
		res = approve(t, approver, byRoot)
		require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
		assert.Equal(t, notify.StatusActive, status(t, byRoot).Status)
	})

	t.Run("S2 one approver twice through a token they made", func(t *testing.T) {
		id := request1(t, commander, "I", "990102") // three people
		res := approve(t, admin, id)
		require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
		assert.Equal(t, notify.StatusPendingApproval, status(t, id).Status)
		minted, _ := createToken(t, h, admin, "甲的第二审批", access.Approver)
		refused(t, minted, id, "activation "+string(id)+" was approved already by 管理员甲", `made the token "甲的第二审批"`)
		// Someone else completes it.
		res = approve(t, approver, id)
		require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
		st := status(t, id)
		assert.Equal(t, notify.StatusActive, st.Status, "three people: the requester, 管理员甲 and 李四")
		require.Len(t, st.Decisions, 2)
		assert.Equal(t, []string{"管理员甲", "李四"}, []string{st.Decisions[0].By, st.Decisions[1].By})
		require.NotEmpty(t, st.Decisions[0].Lineage, "the approver's chain is kept with the decision")
		assert.Equal(t, "bootstrap-admin", st.Decisions[0].Lineage[1].Name)

		// Nor the other way round: the token that made an earlier approver's.
		made, _ := createToken(t, h, f.root, "管理员乙", access.Admin)
		desk, _ := createToken(t, h, made, "乙的审批", access.Approver)
		second := request1(t, commander, "I", "990105")
		res = approve(t, desk, second)
		require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
		refused(t, made, second, "activation "+string(second)+" was approved already by 乙的审批", `管理员乙, who holds the token "管理员乙", made the token "乙的审批"`)
		assert.Equal(t, notify.StatusPendingApproval, status(t, second).Status)
	})

	t.Run("S3 a revoked token in the middle of the chain", func(t *testing.T) {
		requester, _ := createToken(t, h, f.root, "管理员丙", access.Admin)
		tmp, tmpToken := createToken(t, h, requester, "临时管理", access.Admin)
		shadow, _ := createToken(t, h, tmp, "影子审批", access.Approver)
		res := do(t, h, request{method: "DELETE", path: "/api/v1/tokens/" + string(tmpToken.ID), token: requester})
		require.Equal(t, http.StatusNoContent, res.Code, "%s", res.Body)
		id := request1(t, requester, "II", "990103")
		refused(t, shadow, id, `管理员丙, who holds the token "管理员丙", made the token "影子审批" through "临时管理"`)
		assert.Equal(t, notify.StatusPendingApproval, status(t, id).Status)
		res = approve(t, other, id)
		require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
		assert.Equal(t, notify.StatusActive, status(t, id).Status)
	})

	// The request keeps the token it was made with: revoked, and its name
	// given to another person's token, it stands no more, so its requester
	// cannot approve it as if another had asked.
	t.Run("the requester's token revoked and its name given to another", func(t *testing.T) {
		duty, dutyToken := createToken(t, h, f.root, "值班", access.Commander, "赵六")
		own, _ := createToken(t, h, f.root, "赵六审批", access.Approver, "赵六")
		id := request1(t, duty, "II", "990106")
		res := do(t, h, request{method: "DELETE", path: "/api/v1/tokens/" + string(dutyToken.ID), token: f.root})
		require.Equal(t, http.StatusNoContent, res.Code, "%s", res.Body)
		res = do(t, h, request{method: "POST", path: "/api/v1/tokens", token: f.root,
			body: jsonBody(map[string]any{"name": "值班", "holder": "钱七", "role": "commander", "reuse_name": true})})
		require.Equal(t, http.StatusCreated, res.Code, "the revoked token's name reused on purpose: %s", res.Body)
		for _, token := range []string{own, other} {
			res := approve(t, token, id)
			require.Equal(t, http.StatusConflict, res.Code, "%s", res.Body)
			assert.Contains(t, res.errorBody(t).Message, "值班, who requested activation "+string(id)+", holds no token any more (revoked)")
		}
		assert.Equal(t, notify.StatusPendingApproval, status(t, id).Status)
	})
}
