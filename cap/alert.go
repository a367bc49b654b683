// Package cap produces and reads OASIS Common Alerting Protocol 1.2 alerts,
// muster's exchange format with other alerting systems. Muster exports its
// warnings (预警) and plan activations (应急响应) as CAP so that
// neighbouring cities, broadcasters and public alerting platforms can take
// them, and imports the warnings of upstream services such as a
// meteorological bureau, which publish CAP.
//
// Producing: fill an Activation, Warning or Cancel from plain values and call
// its Alert method, then Marshal. The mapping from muster's terms (purpose,
// response level, warning colour, hazard category, regions) to CAP values is
// decided here, once; see each builder. Every alert the package marshals
// satisfies the CAP 1.2 schema and the standard's rules on identifiers,
// references and timestamps.
//
// Reading: Parse accepts a CAP 1.2 document and rejects anything else with a
// muster.EInvalid error naming each offending element, and Alert.Upstream
// extracts what a warning needs from a parsed alert.
//
// The package depends on no other muster package but muster itself (for the
// error type): callers convert their own types into its inputs.
package cap

import (
	"bytes"
	"encoding/xml"
	"slices"
)

// Namespace is the XML namespace of CAP 1.2 documents.
const Namespace = "urn:oasis:names:tc:emergency:cap:1.2"

// Alert is a CAP 1.2 <alert>. Field order follows the schema's sequence.
// Optional elements are left out when their field is empty; Time fields are
// left out when zero. Alerts come from a builder or from Parse; fields may be
// adjusted before Marshal, which validates the result.
type Alert struct {
	XMLName     xml.Name `xml:"urn:oasis:names:tc:emergency:cap:1.2 alert"`
	Identifier  string   `xml:"identifier"`
	Sender      string   `xml:"sender"`
	Sent        Time     `xml:"sent"`
	Status      Status   `xml:"status"`
	MsgType     MsgType  `xml:"msgType"`
	Source      string   `xml:"source,omitempty"`
	Scope       Scope    `xml:"scope"`
	Restriction string   `xml:"restriction,omitempty"`
	Addresses   string   `xml:"addresses,omitempty"`
	Codes       []string `xml:"code"`
	Note        string   `xml:"note,omitempty"`
	References  string   `xml:"references,omitempty"` // space-separated sender,identifier,sent triples; see Reference
	Incidents   string   `xml:"incidents,omitempty"`
	Infos       []Info   `xml:"info"`
}

// Info is one <info> block: the alert's content in one language.
type Info struct {
	Language      string         `xml:"language,omitempty"` // RFC 3066 tag; CAP reads an absent one as en-US
	Categories    []Category     `xml:"category"`
	Event         string         `xml:"event"`
	ResponseTypes []ResponseType `xml:"responseType"`
	Urgency       Urgency        `xml:"urgency"`
	Severity      Severity       `xml:"severity"`
	Certainty     Certainty      `xml:"certainty"`
	Audience      string         `xml:"audience,omitempty"`
	EventCodes    []NamedValue   `xml:"eventCode"`
	Effective     Time           `xml:"effective"`
	Onset         Time           `xml:"onset"`
	Expires       Time           `xml:"expires"`
	SenderName    string         `xml:"senderName,omitempty"`
	Headline      string         `xml:"headline,omitempty"`
	Description   string         `xml:"description,omitempty"`
	Instruction   string         `xml:"instruction,omitempty"`
	Web           string         `xml:"web,omitempty"`
	Contact       string         `xml:"contact,omitempty"`
	Parameters    []NamedValue   `xml:"parameter"`
	Resources     []Resource     `xml:"resource"`
	Areas         []Area         `xml:"area"`
}

// NamedValue is a <valueName>/<value> pair, as in <geocode>, <eventCode>
// and <parameter>.
type NamedValue struct {
	ValueName string `xml:"valueName"`
	Value     string `xml:"value"`
}

// Resource is a <resource>: a file that supplements an info block.
type Resource struct {
	Desc     string `xml:"resourceDesc"`
	MimeType string `xml:"mimeType"`
	Size     int64  `xml:"size,omitempty"` // bytes; left out when 0
	URI      string `xml:"uri,omitempty"`
	DerefURI string `xml:"derefUri,omitempty"`
	Digest   string `xml:"digest,omitempty"`
}

// Area is an <area>: the union of its polygons, circles and geocodes.
type Area struct {
	Desc     string       `xml:"areaDesc"`
	Polygons []string     `xml:"polygon"`
	Circles  []string     `xml:"circle"`
	Geocodes []NamedValue `xml:"geocode"`
	Altitude string       `xml:"altitude,omitempty"` // decimal feet, as written
	Ceiling  string       `xml:"ceiling,omitempty"`  // decimal feet, as written
}

// Marshal validates the alert and returns it as a UTF-8 XML document with an
// XML declaration, indented by two spaces and ending in a newline. An alert
// that Validate rejects is a muster.EInvalid error and yields no document.
func (a *Alert) Marshal() ([]byte, error) {
	if err := problemsError("invalid CAP alert", a.Validate()); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(a); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// Status is the CAP <status>: how recipients should handle the alert.
type Status string

// CAP 1.2 statuses.
const (
	StatusActual   Status = "Actual"   // actionable by all targeted recipients
	StatusExercise Status = "Exercise" // for exercise participants only
	StatusSystem   Status = "System"   // messages that support alert network internal functions
	StatusTest     Status = "Test"     // technical testing only; all recipients disregard
	StatusDraft    Status = "Draft"    // a preliminary template or draft, not actionable
)

var statuses = []Status{StatusActual, StatusExercise, StatusSystem, StatusTest, StatusDraft}

// Valid reports whether s is one of the CAP 1.2 statuses.
func (s Status) Valid() bool { return slices.Contains(statuses, s) }

// MsgType is the CAP <msgType>: what the alert does to earlier ones.
type MsgType string

// CAP 1.2 message types.
const (
	MsgTypeAlert  MsgType = "Alert"  // initial information
	MsgTypeUpdate MsgType = "Update" // updates and supersedes the alerts in references
	MsgTypeCancel MsgType = "Cancel" // cancels the alerts in references
	MsgTypeAck    MsgType = "Ack"    // acknowledges receipt of the alerts in references
	MsgTypeError  MsgType = "Error"  // rejects the alerts in references
)

var msgTypes = []MsgType{MsgTypeAlert, MsgTypeUpdate, MsgTypeCancel, MsgTypeAck, MsgTypeError}

// Valid reports whether t is one of the CAP 1.2 message types.
func (t MsgType) Valid() bool { return slices.Contains(msgTypes, t) }

// Scope is the CAP <scope>: who may receive the alert.
type Scope string

// CAP 1.2 scopes.
const (
	ScopePublic     Scope = "Public"     // general dissemination to unrestricted audiences
	ScopeRestricted Scope = "Restricted" // users with a known operational requirement, see restriction
	ScopePrivate    Scope = "Private"    // the addresses given in addresses
)

var scopes = []Scope{ScopePublic, ScopeRestricted, ScopePrivate}

// Valid reports whether s is one of the CAP 1.2 scopes.
func (s Scope) Valid() bool { return slices.Contains(scopes, s) }

// Category is a CAP <category> of the subject event.
type Category string

// CAP 1.2 categories.
const (
	CategoryGeo       Category = "Geo"       // geophysical, including landslide
	CategoryMet       Category = "Met"       // meteorological, including flood
	CategorySafety    Category = "Safety"    // general emergency and public safety
	CategorySecurity  Category = "Security"  // law enforcement, military, homeland and local/private security
	CategoryRescue    Category = "Rescue"    // rescue and recovery
	CategoryFire      Category = "Fire"      // fire suppression and rescue
	CategoryHealth    Category = "Health"    // medical and public health
	CategoryEnv       Category = "Env"       // pollution and other environmental
	CategoryTransport Category = "Transport" // public and private transportation
	CategoryInfra     Category = "Infra"     // utility, telecommunication, other non-transport infrastructure
	CategoryCBRNE     Category = "CBRNE"     // chemical, biological, radiological, nuclear or high-yield explosive
	CategoryOther     Category = "Other"     // other events
)

var categories = []Category{CategoryGeo, CategoryMet, CategorySafety, CategorySecurity, CategoryRescue,
	CategoryFire, CategoryHealth, CategoryEnv, CategoryTransport, CategoryInfra, CategoryCBRNE, CategoryOther}

// Valid reports whether c is one of the CAP 1.2 categories.
func (c Category) Valid() bool { return slices.Contains(categories, c) }

// ResponseType is a CAP <responseType>: the action recommended to recipients.
type ResponseType string

// CAP 1.2 response types.
const (
	ResponseShelter  ResponseType = "Shelter"
	ResponseEvacuate ResponseType = "Evacuate"
	ResponsePrepare  ResponseType = "Prepare"
	ResponseExecute  ResponseType = "Execute" // execute a pre-planned activity identified in instruction
	ResponseAvoid    ResponseType = "Avoid"
	ResponseMonitor  ResponseType = "Monitor"
	ResponseAssess   ResponseType = "Assess"
	ResponseAllClear ResponseType = "AllClear"
	ResponseNone     ResponseType = "None"
)

var responseTypes = []ResponseType{ResponseShelter, ResponseEvacuate, ResponsePrepare, ResponseExecute,
	ResponseAvoid, ResponseMonitor, ResponseAssess, ResponseAllClear, ResponseNone}

// Valid reports whether r is one of the CAP 1.2 response types.
func (r ResponseType) Valid() bool { return slices.Contains(responseTypes, r) }

// Urgency is the CAP <urgency>: when responsive action should be taken.
type Urgency string

// CAP 1.2 urgencies.
const (
	UrgencyImmediate Urgency = "Immediate"
	UrgencyExpected  Urgency = "Expected" // within the next hour
	UrgencyFuture    Urgency = "Future"
	UrgencyPast      Urgency = "Past"
	UrgencyUnknown   Urgency = "Unknown"
)

var urgencies = []Urgency{UrgencyImmediate, UrgencyExpected, UrgencyFuture, UrgencyPast, UrgencyUnknown}

// Valid reports whether u is one of the CAP 1.2 urgencies.
func (u Urgency) Valid() bool { return slices.Contains(urgencies, u) }

// Severity is the CAP <severity>: how bad the subject event is.
type Severity string

// CAP 1.2 severities.
const (
	SeverityExtreme  Severity = "Extreme"
	SeveritySevere   Severity = "Severe"
	SeverityModerate Severity = "Moderate"
	SeverityMinor    Severity = "Minor"
	SeverityUnknown  Severity = "Unknown"
)

var severities = []Severity{SeverityExtreme, SeveritySevere, SeverityModerate, SeverityMinor, SeverityUnknown}

// Valid reports whether s is one of the CAP 1.2 severities.
func (s Severity) Valid() bool { return slices.Contains(severities, s) }

// Certainty is the CAP <certainty>: how sure the sender is of the event.
type Certainty string

// CAP 1.2 certainties.
const (
	CertaintyObserved Certainty = "Observed"
	CertaintyLikely   Certainty = "Likely" // p > ~50%
	CertaintyPossible Certainty = "Possible"
	CertaintyUnlikely Certainty = "Unlikely"
	CertaintyUnknown  Certainty = "Unknown"
)

var certainties = []Certainty{CertaintyObserved, CertaintyLikely, CertaintyPossible, CertaintyUnlikely, CertaintyUnknown}

// Valid reports whether c is one of the CAP 1.2 certainties.
func (c Certainty) Valid() bool { return slices.Contains(certainties, c) }
