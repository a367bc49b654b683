package examples

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/plans"
)

var update = flag.Bool("update", false, "rewrite city/regions.csv from CityRegions")

// TestRegionsCSVIsGenerated checks that city/regions.csv is exactly what
// CityRegions and WriteRegionsCSV produce; run with -update to rewrite it.
func TestRegionsCSVIsGenerated(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteRegionsCSV(&buf, CityRegions()))
	path := filepath.Join("city", "regions.csv")
	if *update {
		require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
	}
	committed, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(committed, buf.Bytes()), "city/regions.csv is stale: go test ./examples -run TestRegionsCSVIsGenerated -update")
	if !*update {
		assert.True(t, bytes.Equal(committed, RegionsCSV()), "the embedded copy differs from city/regions.csv")
	}

	var again bytes.Buffer
	require.NoError(t, WriteRegionsCSV(&again, CityRegions()))
	assert.True(t, bytes.Equal(buf.Bytes(), again.Bytes()), "generation is not deterministic")
}

func TestRegions(t *testing.T) {
	regions, err := Regions()
	require.NoError(t, err)
	require.Len(t, regions, cityRegionCount)

	byKind := map[plans.RegionKind]int{}
	byCode := map[plans.RegionCode]plans.Region{}
	names := map[string]plans.RegionCode{}
	for _, r := range regions {
		require.NoError(t, r.Validate())
		byKind[r.Kind]++
		_, dup := byCode[r.Code]
		require.False(t, dup, "code %s twice", r.Code)
		byCode[r.Code] = r
		if r.Kind != plans.KindGrid {
			prev, dup := names[r.Name]
			assert.False(t, dup, "name %s used by %s and %s", r.Name, prev, r.Code)
			names[r.Name] = r.Code
		}
		if r.Parent != "" {
			p, ok := byCode[r.Parent]
			require.True(t, ok, "%s: parent %s not listed before it", r.Code, r.Parent)
			assert.Equal(t, r.Kind.Depth()-1, p.Kind.Depth(), "%s: parent %s is not one level up", r.Code, r.Parent)
		}
	}
	assert.Equal(t, map[plans.RegionKind]int{
		plans.KindCity: 1, plans.KindDistrict: 6, plans.KindStreet: 24, plans.KindCommunity: 120, plans.KindGrid: 1200,
	}, byKind)

	tests := []struct {
		name string
		code plans.RegionCode
		want plans.Region
	}{
		{"city", "990100", plans.Region{Code: "990100", Name: "示例市", NameEN: "Example City", Kind: plans.KindCity}},
		{"first district", "990101", plans.Region{Code: "990101", Name: "东湖区", NameEN: "Donghu District", Kind: plans.KindDistrict, Parent: "990100"}},
		{"first street", "990101001", plans.Region{Code: "990101001", Name: "青山街道", Kind: plans.KindStreet, Parent: "990101"}},
		{"first community", "990101001001", plans.Region{Code: "990101001001", Name: "幸福里社区", Kind: plans.KindCommunity, Parent: "990101001"}},
		{"a grid", "990101001001003", plans.Region{Code: "990101001001003", Name: "幸福里社区第3网格", Kind: plans.KindGrid, Parent: "990101001001"}},
		{"last grid", "990106004005010", plans.Region{Code: "990106004005010", Name: "如意园社区第10网格", Kind: plans.KindGrid, Parent: "990106004005"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, byCode[tt.code])
		})
	}

	grids := Grids(regions)
	require.Len(t, grids, cityGridCount)
	for _, g := range grids {
		assert.Len(t, string(g), 15)
		assert.True(t, strings.HasPrefix(string(g), "9901"))
	}
}
