package examples

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/plans"
)

func cityGrids(t testing.TB) []plans.RegionCode {
	regions, err := Regions()
	require.NoError(t, err)
	grids := Grids(regions)
	require.Len(t, grids, cityGridCount)
	return grids
}

func TestGenerateRosterParses(t *testing.T) {
	grids := cityGrids(t)
	const n = 10_000
	var buf bytes.Buffer
	require.NoError(t, GenerateRoster(&buf, n, 42, grids))
	require.True(t, strings.HasPrefix(buf.String(), RosterHeader+"\n"))

	ro, err := plans.ParseRoster(bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	require.Empty(t, ro.Errors, "first errors: %v", ro.Errors[:min(5, len(ro.Errors))])
	require.Len(t, ro.Rows, n)
	assert.Equal(t, plans.EncodingUTF8, ro.Encoding)
	assert.Equal(t, plans.FormatCSV, ro.Format)

	gridSet := map[plans.RegionCode]bool{}
	for _, g := range grids {
		gridSet[g] = true
	}
	assert.Empty(t, ro.CheckReferences(
		func(g plans.RegionCode) bool { return gridSet[g] },
		func(string) bool { return false }, // every backup is someone in the file
	))

	phones := map[string]int{}
	cats := map[plans.Category]int{}
	leaderGrids := map[plans.RegionCode]int{}
	officials := map[string]map[string]bool{} // district → 指挥长/值班领导
	var en, backups, twoPhones int
	for _, row := range ro.Rows {
		for _, ph := range row.Phones {
			first, dup := phones[ph]
			require.False(t, dup, "phone %s on rows %d and %d", ph, first, row.Row)
			phones[ph] = row.Row
		}
		cats[row.Category]++
		if row.Language == plans.LangEN {
			en++
		}
		if row.Backup != "" {
			backups++
		}
		if len(row.Phones) > 1 {
			twoPhones++
		}
		for _, tag := range row.Tags {
			switch tag {
			case "网格长":
				leaderGrids[row.Grid]++
			case "指挥长", "值班领导":
				assert.Equal(t, plans.CatOfficial, row.Category)
				d := string(row.Grid[:6])
				if officials[d] == nil {
					officials[d] = map[string]bool{}
				}
				officials[d][tag] = true
			}
		}
	}
	assert.Len(t, phones, n+twoPhones)
	assert.Len(t, leaderGrids, len(grids), "one 网格长 per grid")
	for g, c := range leaderGrids {
		assert.Equal(t, 1, c, "grid %s has %d leaders", g, c)
	}
	assert.Len(t, officials, DistrictsPerCity)
	for d, tags := range officials {
		assert.Equal(t, map[string]bool{"指挥长": true, "值班领导": true}, tags, "district %s", d)
	}
	share := func(k int) float64 { return float64(k) / n }
	assert.InDelta(t, 0.05, share(en), 0.015, "English speakers")
	assert.InDelta(t, 0.20, share(backups), 0.03, "with a backup")
	assert.InDelta(t, 0.08, share(twoPhones), 0.02, "with two phones")
	assert.Greater(t, cats[plans.CatPartyMember], cats[plans.CatCommunityCadre])
	assert.Greater(t, cats[plans.CatVolunteer], cats[plans.CatProperty])
	assert.Greater(t, cats[plans.CatGridWorker], cats[plans.CatDeputy])
	for _, c := range plans.Categories() {
		assert.Positive(t, cats[c], "no %s", c)
	}
}

func TestGenerateRosterDeterministic(t *testing.T) {
	grids := cityGrids(t)
	gen := func(n int, seed int64) []byte {
		var buf bytes.Buffer
		require.NoError(t, GenerateRoster(&buf, n, seed, grids))
		return buf.Bytes()
	}
	a, b := gen(2000, 7), gen(2000, 7)
	assert.True(t, bytes.Equal(a, b), "same seed, different bytes")
	assert.False(t, bytes.Equal(a, gen(2000, 8)), "different seeds, same bytes")
}

func TestGenerateRosterSmall(t *testing.T) {
	grids := cityGrids(t)
	tests := []struct {
		name string
		n    int
	}{
		{"empty", 0},
		{"one", 1},
		{"fewer than grids", 500},
		{"grids and some officials", cityGridCount + 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, GenerateRoster(&buf, tt.n, 1, grids))
			ro, err := plans.ParseRoster(&buf)
			require.NoError(t, err)
			assert.Empty(t, ro.Errors)
			assert.Len(t, ro.Rows, tt.n)
		})
	}
}

func TestGenerateRosterBadInput(t *testing.T) {
	assert.Error(t, GenerateRoster(io.Discard, -1, 1, cityGrids(t)))
	assert.Error(t, GenerateRoster(io.Discard, 10, 1, nil))
}

func BenchmarkGenerateRoster(b *testing.B) {
	grids := cityGrids(b)
	const n = 100_000
	var size int
	b.ReportAllocs()
	for b.Loop() {
		cw := &countingWriter{}
		require.NoError(b, GenerateRoster(cw, n, 1, grids))
		size = cw.n
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(size)/n, "bytes/row")
}

type countingWriter struct{ n int }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

// A prefix gives the 编号 of every row; only a plain one is taken.
func TestGenerateRosterIDs(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, GenerateRosterIDs(&buf, 3, 2, cityGrids(t), "T"))
	ro, err := plans.ParseRoster(&buf)
	require.NoError(t, err)
	require.Len(t, ro.Rows, 3)
	for i, r := range ro.Rows {
		assert.Equal(t, fmt.Sprintf("T%07d", i+1), r.ExternalID)
	}
	var p bytes.Buffer
	require.NoError(t, GenerateRoster(&p, 3, 2, cityGrids(t)))
	assert.Equal(t, strings.ReplaceAll(p.String(), "\nP", "\nT"), func() string {
		var b bytes.Buffer
		require.NoError(t, GenerateRosterIDs(&b, 3, 2, cityGrids(t), "T"))
		return b.String()
	}(), "the same rows otherwise")
	for _, bad := range []string{"", "x y", "编号", "ABCDEFGHI", "P,"} {
		assert.Error(t, GenerateRosterIDs(io.Discard, 1, 1, cityGrids(t), bad), bad)
	}
}
