package cap

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// schemaFile is the OASIS CAP 1.2 schema, kept in the repository so that CI
// on a clean clone has it.
var schemaFile = filepath.Join("testdata", "cap-v1.2.xsd")

// xmllintPath finds xmllint (Debian package libxml2-utils). Without it the
// test is skipped, or fails when MUSTER_REQUIRE_XMLLINT=1, as CI sets.
func xmllintPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("xmllint")
	if err == nil {
		return path
	}
	if os.Getenv("MUSTER_REQUIRE_XMLLINT") == "1" {
		t.Fatalf("xmllint not found and MUSTER_REQUIRE_XMLLINT=1: install libxml2-utils to check CAP documents against %s", schemaFile)
	}
	t.Skipf("xmllint not found: install libxml2-utils (apt-get install libxml2-utils) to check CAP documents against %s; set MUSTER_REQUIRE_XMLLINT=1 to make this a failure", schemaFile)
	return ""
}

// xmllint validates the document against the CAP 1.2 schema and returns
// xmllint's output and whether the document is valid.
func xmllint(t *testing.T, doc []byte) (string, bool) {
	t.Helper()
	path := xmllintPath(t)
	file := filepath.Join(t.TempDir(), "alert.xml")
	require.NoError(t, os.WriteFile(file, doc, 0o644))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--noout", "--nonet", "--schema", schemaFile, file).CombinedOutput()
	if err != nil {
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit, "run xmllint: %s", out)
		require.NoError(t, ctx.Err(), "xmllint took too long")
	}
	return string(out), err == nil
}

// requireSchemaValid fails the test unless doc validates against the schema.
func requireSchemaValid(t *testing.T, doc []byte) {
	t.Helper()
	out, ok := xmllint(t, doc)
	require.True(t, ok, "xmllint rejects the document:\n%s\n%s", out, doc)
}

// TestProducedAlertsValidate checks every document the package produces in
// tests against the CAP 1.2 schema.
func TestProducedAlertsValidate(t *testing.T) {
	xmllintPath(t)
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := tc.build(t).Marshal()
			require.NoError(t, err)
			requireSchemaValid(t, doc)
		})
	}
	for _, name := range upstreamSamples(t) {
		t.Run("reencoded "+filepath.Base(name), func(t *testing.T) {
			src, err := os.ReadFile(name)
			require.NoError(t, err)
			a, err := Parse(src)
			require.NoError(t, err)
			doc, err := a.Marshal()
			require.NoError(t, err)
			requireSchemaValid(t, doc)
		})
	}
}

// TestParseAgreesWithSchema checks Parse against xmllint: the upstream
// samples are valid for both, and each bad document that breaks a schema
// rule is refused by both.
func TestParseAgreesWithSchema(t *testing.T) {
	xmllintPath(t)
	for _, name := range upstreamSamples(t) {
		t.Run(filepath.Base(name), func(t *testing.T) {
			src, err := os.ReadFile(name)
			require.NoError(t, err)
			requireSchemaValid(t, src)
			_, err = Parse(src)
			assert.NoError(t, err)
		})
	}
	for _, tt := range parseErrorCases(t) {
		if !tt.schemaInvalid {
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc))
			assert.Error(t, err)
			out, ok := xmllint(t, []byte(tt.doc))
			assert.False(t, ok, "xmllint accepts what Parse refuses (%v):\n%s", err, out)
		})
	}
}

func upstreamSamples(t *testing.T) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", "upstream", "*.xml"))
	require.NoError(t, err)
	require.NotEmpty(t, names)
	return names
}
