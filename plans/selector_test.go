package plans

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSelectorMatch(t *testing.T) {
	gridWorker := Person{Name: "李娜", Grid: "990102003004001", Category: CatGridWorker, Tags: []string{"网格员", "防汛"}}
	leader := Person{Name: "王强", Grid: "990101001001001", Category: CatOfficial, Tags: []string{"指挥长"}}
	medic := Person{Name: "赵敏", Grid: "990102003004002", Category: CatResponder, Teams: []string{"医疗救护队"}, Tags: []string{"医疗", "驾驶员"}}
	noGrid := Person{Name: "孙伟", Category: CatVolunteer, Teams: []string{"志愿服务队"}}

	tests := []struct {
		name string
		sel  Selector
		p    Person
		want bool
	}{
		{"empty selector matches nobody", Selector{}, gridWorker, false},
		{"category", Selector{Categories: []Category{CatGridWorker}}, gridWorker, true},
		{"category other", Selector{Categories: []Category{CatGridWorker}}, leader, false},
		{"OR within categories", Selector{Categories: []Category{CatVolunteer, CatOfficial}}, leader, true},
		{"tag", Selector{Tags: []string{"指挥长"}}, leader, true},
		{"OR within tags", Selector{Tags: []string{"消防", "防汛"}}, gridWorker, true},
		{"no tag", Selector{Tags: []string{"消防"}}, gridWorker, false},
		{"team", Selector{Teams: []string{"医疗救护队"}}, medic, true},
		{"OR within teams", Selector{Teams: []string{"防汛抢险队", "志愿服务队"}}, noGrid, true},
		{"no team", Selector{Teams: []string{"医疗救护队"}}, gridWorker, false},
		{"AND across fields: both", Selector{Categories: []Category{CatOfficial}, Tags: []string{"指挥长"}}, leader, true},
		{"AND across fields: tag missing", Selector{Categories: []Category{CatOfficial}, Tags: []string{"值班领导"}}, leader, false},
		{"AND across fields: category missing", Selector{Categories: []Category{CatGridWorker}, Tags: []string{"医疗"}}, medic, false},
		{"region city", Selector{Regions: []RegionCode{"990100"}}, gridWorker, true},
		{"region district", Selector{Regions: []RegionCode{"990102"}}, gridWorker, true},
		{"region other district", Selector{Regions: []RegionCode{"990101"}}, gridWorker, false},
		{"region street", Selector{Regions: []RegionCode{"990102003"}}, gridWorker, true},
		{"region community", Selector{Regions: []RegionCode{"990102003004"}}, medic, true},
		{"region the grid itself", Selector{Regions: []RegionCode{"990102003004001"}}, gridWorker, true},
		{"region sibling grid", Selector{Regions: []RegionCode{"990102003004001"}}, medic, false},
		{"OR within regions", Selector{Regions: []RegionCode{"990101", "990102003"}}, medic, true},
		{"person without grid never matches a region", Selector{Regions: []RegionCode{"990100"}}, noGrid, false},
		{"team AND region", Selector{Teams: []string{"医疗救护队"}, Regions: []RegionCode{"990101"}}, medic, false},
		{"all four fields", Selector{Categories: []Category{CatResponder}, Tags: []string{"驾驶员"}, Teams: []string{"医疗救护队"}, Regions: []RegionCode{"990102"}}, medic, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.sel.Match(tt.p, nil), "code-based regions")
			// The tree passed by the caller is what counts.
			tree := func(grid, region RegionCode) bool { return RegionUnder(grid, region) }
			assert.Equal(t, tt.want, tt.sel.Match(tt.p, tree), "caller's tree")
		})
	}

	t.Run("caller's tree decides", func(t *testing.T) {
		never := func(RegionCode, RegionCode) bool { return false }
		assert.False(t, Selector{Regions: []RegionCode{"990100"}}.Match(gridWorker, never))
		always := func(RegionCode, RegionCode) bool { return true }
		assert.True(t, Selector{Regions: []RegionCode{"110000"}}.Match(gridWorker, always))
	})
}

func TestRegionUnder(t *testing.T) {
	tests := []struct {
		code, region RegionCode
		want         bool
	}{
		{"990100", "990100", true},
		{"990102", "990100", true},
		{"990100", "990102", false},
		{"990102003", "990100", true},
		{"990102003", "990102", true},
		{"990102003", "990101", false},
		{"990102003004001", "990102003004", true},
		{"990102003004001", "990102003", true},
		{"990102003", "990102003004", false},
		{"990100", "990000", true},
		{"980100", "990000", false},
		{"", "990100", false},
		{"990100", "", false},
		{"9901020", "990102003", false},
	}
	for _, tt := range tests {
		t.Run(string(tt.code)+"_under_"+string(tt.region), func(t *testing.T) {
			assert.Equal(t, tt.want, RegionUnder(tt.code, tt.region))
		})
	}
}

func TestSelectorIsEmpty(t *testing.T) {
	assert.True(t, Selector{}.IsEmpty())
	assert.True(t, Selector{Tags: []string{}}.IsEmpty())
	assert.False(t, Selector{Teams: []string{"消防救援队"}}.IsEmpty())
}
