package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWarningIssueTakesEnglishTexts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	addr := freePort(t)
	dev := startProc(t, "dev", nil, "dev", "--data-dir", filepath.Join(t.TempDir(), "data"), "--http-addr", addr,
		"--people", "50", "--log-level", "warn")
	token := strings.Fields(dev.waitOutput("admin token:", 60*time.Second))[0]
	env := []string{"MUSTER_ADDR=http://" + addr, "MUSTER_TOKEN=" + token}

	r := runCLI(t, env, "warning", "issue", "--region", "990101", "--level", "orange", "--event", "城市内涝", "--headline", "东湖区城市内涝橙色预警",
		"--event-en", "Urban flooding", "--headline-en", "Orange urban flooding warning for Donghu", "--description-en", "Low roads are under water.",
		"-o", "json")
	require.Zero(t, r.code, r.stderr)
	var w struct {
		EventEN       string   `json:"event_en"`
		HeadlineEN    string   `json:"headline_en"`
		DescriptionEN string   `json:"description_en"`
		AreaNamesEN   []string `json:"area_names_en"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &w), r.stdout)
	assert.Equal(t, "Urban flooding", w.EventEN)
	assert.Equal(t, "Orange urban flooding warning for Donghu", w.HeadlineEN)
	assert.Equal(t, "Low roads are under water.", w.DescriptionEN)
	assert.Equal(t, []string{"Donghu District"}, w.AreaNamesEN)

	// An English headline for an event that names no warning signal
	// needs the English event.
	r = runCLI(t, env, "warning", "issue", "--region", "990102", "--level", "blue", "--event", "城市内涝", "--headline", "江北区城市内涝蓝色预警",
		"--headline-en", "Blue urban flooding warning for Jiangbei")
	assert.NotZero(t, r.code)
	assert.Contains(t, r.stderr, "event_en")
}
