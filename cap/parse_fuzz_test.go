package cap

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic, and an alert
// it accepts must marshal, parse again and marshal to the same document, and
// yield its Upstream summary without panicking.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"*.xml", filepath.Join("upstream", "*.xml")} {
		files, err := filepath.Glob(filepath.Join("testdata", pattern))
		require.NoError(f, err)
		for _, name := range files {
			b, err := os.ReadFile(name)
			require.NoError(f, err)
			f.Add(b)
		}
	}
	f.Add([]byte(minimalAlert))
	f.Add([]byte("<html><body>502</body></html>"))
	f.Add([]byte(`<alert xmlns="urn:oasis:names:tc:emergency:cap:1.1"/>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Parse(data)
		if err != nil {
			require.Nil(t, a)
			return
		}
		doc, err := a.Marshal()
		require.NoError(t, err)
		b, err := Parse(doc)
		require.NoError(t, err, "%s", doc)
		again, err := b.Marshal()
		require.NoError(t, err)
		require.Equal(t, string(doc), string(again))
		_, _ = a.Upstream("")
	})
}
