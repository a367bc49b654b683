package cap

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/encoding/simplifiedchinese"

	"muster"
)

// minimalAlert is a small valid CAP 1.2 alert the error cases break.
const minimalAlert = `<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>QX-0001</identifier>
  <sender>qx.990100.example.cn</sender>
  <sent>2026-11-23T08:55:00+08:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <language>zh-CN</language>
    <category>Met</category>
    <event>暴雨</event>
    <urgency>Expected</urgency>
    <severity>Severe</severity>
    <certainty>Likely</certainty>
    <expires>2026-11-23T20:00:00+08:00</expires>
    <headline>暴雨橙色预警</headline>
    <area>
      <areaDesc>东湖区</areaDesc>
      <geocode>
        <valueName>GB/T 2260</valueName>
        <value>990101</value>
      </geocode>
    </area>
  </info>
</alert>
`

type parseErrorCase struct {
	name          string
	doc           string
	element       string // of one of the problems; "" for a document-level one
	message       string // in that problem
	schemaInvalid bool   // xmllint refuses it too; false where muster is stricter than the schema
}

// parseErrorCases are documents Parse refuses. Most are minimalAlert with one
// thing broken.
func parseErrorCases(t *testing.T) []parseErrorCase {
	t.Helper()
	with := func(old, new string) string {
		t.Helper()
		require.Contains(t, minimalAlert, old)
		return strings.Replace(minimalAlert, old, new, 1)
	}
	return []parseErrorCase{
		{name: "empty", doc: "", message: "not XML: no root element", schemaInvalid: true},
		{name: "plain text", doc: "rain warning: orange", message: "not XML: text", schemaInvalid: true},
		{name: "JSON", doc: `{"identifier": "QX-0001", "status": "Actual"}`, message: "not XML: text", schemaInvalid: true},
		{name: "HTML page", doc: "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>",
			message: "root element <html>: want a CAP 1.2 <alert", schemaInvalid: true},
		{name: "HTML not well-formed", doc: "<html><body><p>Bad Gateway<br></body></html>", message: "root element <html>", schemaInvalid: true},
		{name: "mismatched tags", doc: with("</identifier>", "</sender>"), message: "not well-formed XML", schemaInvalid: true},
		{name: "truncated", doc: minimalAlert[:len(minimalAlert)/2], message: "not well-formed XML", schemaInvalid: true},
		{name: "CAP 1.1 namespace", doc: with(Namespace, "urn:oasis:names:tc:emergency:cap:1.1"),
			message: "earlier CAP version: want CAP 1.2", schemaInvalid: true},
		{name: "no namespace", doc: with(` xmlns="urn:oasis:names:tc:emergency:cap:1.2"`, ""), message: "<alert> has no namespace", schemaInvalid: true},
		{name: "other namespace", doc: with(Namespace, "http://example.com/alerts"), message: `alert in namespace "http://example.com/alerts"`, schemaInvalid: true},
		{name: "unsupported encoding", doc: with(`encoding="UTF-8"`, `encoding="EBCDIC"`), message: `encoding "EBCDIC"`, schemaInvalid: true},
		{name: "missing identifier", doc: with("<identifier>QX-0001</identifier>", ""), element: "identifier", message: "missing", schemaInvalid: true},
		{name: "empty identifier", doc: with("<identifier>QX-0001</identifier>", "<identifier></identifier>"), element: "identifier", message: "missing or empty"},
		{name: "identifier with space", doc: with("QX-0001", "QX 0001"), element: "identifier", message: "white space"},
		{name: "sender with comma", doc: with("qx.990100.example.cn", "qx,990100"), element: "sender", message: "comma"},
		{name: "identifier twice", doc: with("<identifier>QX-0001</identifier>", "<identifier>QX-0001</identifier><identifier>QX-0002</identifier>"),
			element: "identifier", message: "more than once", schemaInvalid: true},
		{name: "bad status value", doc: with("<status>Actual</status>", "<status>Actuel</status>"),
			element: "status", message: `"Actuel": want Actual, Exercise, System, Test or Draft`, schemaInvalid: true},
		{name: "status in lower case", doc: with("<status>Actual</status>", "<status>actual</status>"), element: "status", message: "want Actual", schemaInvalid: true},
		{name: "bad msgType", doc: with("<msgType>Alert</msgType>", "<msgType>Warning</msgType>"), element: "msgType", message: "want Alert, Update", schemaInvalid: true},
		{name: "missing scope", doc: with("<scope>Public</scope>", ""), element: "scope", message: "missing", schemaInvalid: true},
		{name: "private without addresses", doc: with("<scope>Public</scope>", "<scope>Private</scope>"), element: "addresses", message: "Private"},
		{name: "bad timestamp", doc: with("2026-11-23T08:55:00+08:00", "2026-11-23 08:55:00"), element: "sent", message: "want a timestamp like", schemaInvalid: true},
		{name: "timestamp with Z", doc: with("2026-11-23T08:55:00+08:00", "2026-11-23T00:55:00Z"), element: "sent", message: "no Z", schemaInvalid: true},
		{name: "timestamp with fraction", doc: with("2026-11-23T08:55:00+08:00", "2026-11-23T08:55:00.123+08:00"), element: "sent", message: "whole seconds", schemaInvalid: true},
		{name: "impossible date", doc: with("2026-11-23T20:00:00+08:00", "2026-11-31T20:00:00+08:00"), element: "info[0].expires", message: "not a real date", schemaInvalid: true},
		{name: "bad severity", doc: with("<severity>Severe</severity>", "<severity>High</severity>"),
			element: "info[0].severity", message: "want Extreme, Severe, Moderate, Minor or Unknown", schemaInvalid: true},
		{name: "bad category", doc: with("<category>Met</category>", "<category>Weather</category>"), element: "info[0].category[0]", message: "want Geo, Met", schemaInvalid: true},
		{name: "missing category", doc: with("<category>Met</category>", ""), element: "info[0].category", message: "missing", schemaInvalid: true},
		{name: "missing event", doc: with("<event>暴雨</event>", ""), element: "info[0].event", message: "missing", schemaInvalid: true},
		{name: "blank event", doc: with("<event>暴雨</event>", "<event> </event>"), element: "info[0].event", message: "missing or empty"},
		{name: "missing urgency", doc: with("<urgency>Expected</urgency>", ""), element: "info[0].urgency", message: "missing", schemaInvalid: true},
		{name: "bad language", doc: with("<language>zh-CN</language>", "<language>Chinese (China)</language>"), element: "info[0].language", message: "language tag", schemaInvalid: true},
		{name: "missing areaDesc", doc: with("<areaDesc>东湖区</areaDesc>", ""), element: "info[0].area[0].areaDesc", message: "missing", schemaInvalid: true},
		{name: "geocode without value", doc: with("<value>990101</value>", ""), element: "info[0].area[0].geocode[0].value", message: "missing", schemaInvalid: true},
		{name: "bad web", doc: with("</headline>", "</headline><web>%zz</web>"), element: "info[0].web", message: "want a URL", schemaInvalid: true},
		{name: "bad altitude", doc: with("</areaDesc>", "</areaDesc><altitude>high</altitude>"), element: "info[0].area[0].altitude", message: "decimal", schemaInvalid: true},
		{name: "bad resource size", doc: with("<area>", "<resource><resourceDesc>map</resourceDesc><mimeType>image/png</mimeType><size>big</size></resource><area>"),
			element: "info[0].resource[0].size", message: "whole number", schemaInvalid: true},
		{name: "misspelt element", doc: with("<expires>", "<expire>2026-11-23T20:00:00+08:00</expire><expires>"), element: "info[0].expire", message: "unknown element", schemaInvalid: true},
		{name: "element from another namespace", doc: with("<headline>", `<x:priority xmlns:x="http://example.com/x">high</x:priority><headline>`),
			element: "info[0].priority", message: `element in namespace "http://example.com/x"`, schemaInvalid: true},
		{name: "element in text", doc: with("<headline>暴雨橙色预警</headline>", "<headline>暴雨<b>橙色</b>预警</headline>"), element: "info[0].headline", message: "want text only", schemaInvalid: true},
		{name: "text between elements", doc: with("<scope>Public</scope>", "<scope>Public</scope>urgent!"), element: "", message: "text \"urgent!\" between elements", schemaInvalid: true},
		{name: "bad references", doc: with("<scope>Public</scope>", "<scope>Public</scope><references>QX-0000</references>"), element: "references", message: "want sender,identifier,sent"},
		{name: "second alert", doc: minimalAlert + minimalAlert[strings.Index(minimalAlert, "<alert"):], message: "after </alert>", schemaInvalid: true},
	}
}

func TestParseErrors(t *testing.T) {
	for _, tt := range parseErrorCases(t) {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Parse([]byte(tt.doc))
			require.Error(t, err)
			assert.Nil(t, a)
			assert.True(t, muster.IsCode(err, muster.EInvalid), "code %s", muster.ErrorCode(err))
			assert.True(t, strings.HasPrefix(err.Error(), "invalid CAP alert: "), err.Error())
			assertProblem(t, err, tt.element, tt.message)
		})
	}
}

func TestParseUpstream(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "upstream", "rainstorm-orange.xml"))
	require.NoError(t, err)
	a, err := Parse(src)
	require.NoError(t, err)
	assert.Equal(t, []string{"预警信号"}, a.Codes)
	require.Len(t, a.Infos, 2)
	assert.Equal(t, []NamedValue{{"CMA warning type", "11B03"}}, a.Infos[0].EventCodes)

	u, err := a.Upstream("")
	require.NoError(t, err)
	assert.Equal(t, "990100-QX-20261123085500-RS-ORANGE", u.Identifier)
	assert.Equal(t, "qx.990100.example.cn", u.Sender)
	assert.Equal(t, "2026-11-23T08:55:00+08:00", FormatTime(u.Sent))
	assert.Equal(t, StatusActual, u.Status)
	assert.Equal(t, MsgTypeAlert, u.MsgType)
	assert.Empty(t, u.References)
	assert.Equal(t, "zh-CN", u.Language, "zh-CN is read by default, though it is the second block")
	assert.Equal(t, "暴雨", u.Event)
	assert.Equal(t, "示例市气象台发布暴雨橙色预警信号", u.Headline)
	assert.Contains(t, u.Description, "50毫米")
	assert.Equal(t, SeveritySevere, u.Severity)
	assert.Equal(t, UrgencyExpected, u.Urgency)
	assert.Equal(t, CertaintyLikely, u.Certainty)
	assert.Equal(t, "2026-11-23T20:00:00+08:00", FormatTime(u.Expires))
	assert.Equal(t, []UpstreamArea{{Desc: "东湖区、江北区", Geocodes: []NamedValue{{"GB/T 2260", "990101"}, {"GB/T 2260", "990102"}}}}, u.Areas)

	for lang, want := range map[string]string{"en-US": "Rainstorm", "EN-us": "Rainstorm", "en": "Rainstorm", "en-GB": "Rainstorm", "zh": "暴雨", "zh-Hans": "暴雨", "fr-FR": "Rainstorm"} {
		u, err := a.Upstream(lang)
		require.NoError(t, err)
		assert.Equal(t, want, u.Event, lang)
	}

	src, err = os.ReadFile(filepath.Join("testdata", "upstream", "rainstorm-cancel.xml"))
	require.NoError(t, err)
	c, err := Parse(src)
	require.NoError(t, err)
	u, err = c.Upstream("")
	require.NoError(t, err)
	assert.Equal(t, MsgTypeCancel, u.MsgType)
	assert.Equal(t, "2026-11-23T11:30:00+08:00", FormatTime(u.Sent.In(cst)), "-00:00 is UTC")
	require.Len(t, u.References, 1)
	assert.Equal(t, a.Reference().String(), u.References[0].String())
	assert.True(t, u.Expires.IsZero())
	doc, err := c.Marshal()
	require.NoError(t, err)
	assert.Contains(t, string(doc), "<sent>2026-11-23T03:30:00-00:00</sent>", "written back with CAP's -00:00")
}

func TestUpstreamErrors(t *testing.T) {
	base, err := Parse([]byte(minimalAlert))
	require.NoError(t, err)
	ref := "qx.990100.example.cn,QX-0000,2026-11-23T08:00:00+08:00"
	tests := []struct {
		name    string
		change  func(a *Alert)
		wantErr string
	}{
		{"alert", func(a *Alert) {}, ""},
		{"update", func(a *Alert) { a.MsgType, a.References = MsgTypeUpdate, ref }, ""},
		{"cancel without info", func(a *Alert) { a.MsgType, a.References, a.Infos = MsgTypeCancel, ref, nil }, ""},
		{"ack without info", func(a *Alert) { a.MsgType, a.References, a.Infos = MsgTypeAck, ref, nil }, ""},
		{"alert without info", func(a *Alert) { a.Infos = nil }, "without an info block"},
		{"update without info", func(a *Alert) { a.MsgType, a.References, a.Infos = MsgTypeUpdate, ref, nil }, "without an info block"},
		{"update without references", func(a *Alert) { a.MsgType = MsgTypeUpdate }, "Update without references"},
		{"cancel without references", func(a *Alert) { a.MsgType = MsgTypeCancel }, "Cancel without references"},
		{"bad references", func(a *Alert) { a.References = "x" }, "references"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := *base
			tt.change(&a)
			u, err := a.Upstream("")
			if tt.wantErr == "" {
				require.NoError(t, err)
				assert.Equal(t, a.MsgType, u.MsgType)
				return
			}
			require.Error(t, err)
			assert.True(t, muster.IsCode(err, muster.EInvalid))
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestParseChineseEncodings(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "upstream", "rainstorm-orange.xml"))
	require.NoError(t, err)
	want, err := Parse(src)
	require.NoError(t, err)
	for _, label := range []string{"GB2312", "GBK", "gb18030"} {
		t.Run(label, func(t *testing.T) {
			doc := bytes.Replace(src, []byte(`encoding="UTF-8"`), []byte(`encoding="`+label+`"`), 1)
			doc, err := simplifiedchinese.GB18030.NewEncoder().Bytes(doc)
			require.NoError(t, err)
			require.False(t, bytes.Contains(doc, []byte("暴雨")), "really re-encoded")
			got, err := Parse(doc)
			require.NoError(t, err)
			assert.Equal(t, want, got)
		})
	}
	t.Run("UTF-8 with byte order mark", func(t *testing.T) {
		got, err := Parse(append([]byte("\uFEFF"), src...))
		require.NoError(t, err)
		assert.Equal(t, want, got)
	})
}

func TestParseAcceptsWhatTheSchemaAllows(t *testing.T) {
	doc := strings.Replace(minimalAlert, "</alert>", `  <!-- signed -->
  <ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:Reference URI=""/></ds:SignedInfo></ds:Signature>
</alert>`, 1)
	doc = strings.Replace(doc, "<event>暴雨</event>", "<event><![CDATA[暴雨]]><!-- rain --></event>", 1)
	doc = strings.Replace(doc, "</headline>", "</headline>\n<web>\n  https://qx.990100.example.cn/w/1\n</web>", 1)
	doc = strings.Replace(doc, "<language>zh-CN</language>", "<language> zh-CN </language>", 1)
	a, err := Parse([]byte(doc))
	require.NoError(t, err)
	assert.Equal(t, "暴雨", a.Infos[0].Event)
	assert.Equal(t, "https://qx.990100.example.cn/w/1", a.Infos[0].Web, "xs:anyURI collapses white space")
	assert.Equal(t, "zh-CN", a.Infos[0].Language, "so does xs:language")
	requireSchemaValid(t, []byte(doc))
}

func TestParseReportsEveryProblem(t *testing.T) {
	doc := strings.NewReplacer("<status>Actual</status>", "<status>Real</status>",
		"<severity>Severe</severity>", "<severity>High</severity>",
		"<certainty>Likely</certainty>", "").Replace(minimalAlert)
	_, err := Parse([]byte(doc))
	require.Error(t, err)
	// Structure problems come first: values are checked once the elements are all there.
	assert.Equal(t, "invalid CAP alert: info[0].certainty: missing: CAP 1.2 requires it", err.Error())

	doc = strings.NewReplacer("<status>Actual</status>", "<status>Real</status>",
		"<severity>Severe</severity>", "<severity>High</severity>").Replace(minimalAlert)
	_, err = Parse([]byte(doc))
	require.Error(t, err)
	assert.Equal(t, `invalid CAP alert: status: "Real": want Actual, Exercise, System, Test or Draft (and 1 more problem)`, err.Error())
	assertProblem(t, err, "info[0].severity", `"High"`)
}

func TestParseKeepsTimeOffsets(t *testing.T) {
	a, err := Parse([]byte(minimalAlert))
	require.NoError(t, err)
	_, off := a.Sent.Zone()
	assert.Equal(t, 8*60*60, off)
	assert.True(t, a.Sent.Equal(time.Date(2026, 11, 23, 0, 55, 0, 0, time.UTC)))
}
