package plans

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzParseRoster feeds arbitrary files to ParseRoster: it must never panic,
// and it returns either a roster whose rows are all valid or an error.
func FuzzParseRoster(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "roster", "*"))
	require.NoError(f, err)
	for _, name := range files {
		b, err := os.ReadFile(name)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte("name,phone,grid,category\n张三,13800138000,990101001001001,党员\n"))
	f.Add([]byte("name\tphone\tgrid\tcategory\tbackup\n张三\t138 0013 8000 13900139000\t990101001001001\t党员\t张三\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ro, err := ParseRoster(bytes.NewReader(data))
		if err != nil {
			require.Nil(t, ro)
			return
		}
		require.NotNil(t, ro)
		require.True(t, slices.IsSortedFunc(ro.Errors, func(a, b RowError) int { return a.Row - b.Row }))
		phones := map[string]bool{}
		for _, row := range ro.Rows {
			require.NotEmpty(t, row.Name)
			require.NotEmpty(t, row.Phones)
			for _, ph := range row.Phones {
				require.False(t, phones[ph], "phone %s twice", ph)
				phones[ph] = true
				require.Equal(t, byte('+'), ph[0])
			}
			require.Len(t, string(row.Grid), 15)
			require.NotEmpty(t, row.Category)
			require.NotEmpty(t, row.Language)
			require.Positive(t, row.Row)
		}
		ro.CheckReferences(func(RegionCode) bool { return false }, func(string) bool { return false })
	})
}
