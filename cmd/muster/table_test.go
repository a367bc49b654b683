package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTableAlignsChineseText(t *testing.T) {
	var out bytes.Buffer
	tb := newTable(&out)
	fmt.Fprintln(tb, "ID\tNAME\tGRID")
	fmt.Fprintln(tb, "P1\t张三\t990101001001001")
	fmt.Fprintln(tb, "P22\tLi Lei\t990101001001002")
	fmt.Fprintln(tb, "a line without columns")
	require.NoError(t, tb.Flush())
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, 4)
	// The third column starts at the same terminal cell on every row.
	for _, l := range lines[:3] {
		i := strings.LastIndex(l, "  ")
		assert.Equal(t, 3+2+6+2, displayWidth(l[:i+2]), "%q", l) // widest ID, gap, widest name (6 cells), gap
	}
	assert.Equal(t, "a line without columns", lines[3])
	assert.Equal(t, 4, displayWidth("张三"))
	assert.Equal(t, 6, displayWidth("Li Lei"))
}
