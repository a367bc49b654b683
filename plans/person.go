package plans

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"

	"muster"
)

// PersonID identifies a person in the roster. It is assigned inside the FSM
// from a bbolt sequence, so every node assigns the same ID.
type PersonID string

// Category is the kind of member a person is in the mobilization roster.
// Canonical values are the Chinese names below.
type Category string

// Roster categories (人员类别).
const (
	CatPartyMember    Category = "党员"
	CatDeputy         Category = "人大代表"
	CatCPPCC          Category = "政协委员"
	CatLeague         Category = "团员"
	CatCommunityCadre Category = "社区干部"
	CatSecondedCadre  Category = "下沉干部"
	CatActivist       Category = "居民骨干"
	CatProperty       Category = "物业"
	CatVolunteer      Category = "志愿者"
	CatResponder      Category = "应急队伍"
	CatGridWorker     Category = "网格员"
	CatOfficial       Category = "领导干部"
)

// categoryNames maps accepted spellings to the canonical category.
var categoryNames = map[string]Category{
	"党员": CatPartyMember, "party_member": CatPartyMember, "party member": CatPartyMember,
	"人大代表": CatDeputy, "deputy": CatDeputy,
	"政协委员": CatCPPCC, "cppcc": CatCPPCC, "cppcc_member": CatCPPCC,
	"团员": CatLeague, "共青团员": CatLeague, "league": CatLeague, "league_member": CatLeague,
	"社区干部": CatCommunityCadre, "community_cadre": CatCommunityCadre,
	"下沉干部": CatSecondedCadre, "seconded_cadre": CatSecondedCadre,
	"居民骨干": CatActivist, "activist": CatActivist, "resident_activist": CatActivist,
	"物业": CatProperty, "物业职工": CatProperty, "property": CatProperty, "property_staff": CatProperty,
	"志愿者": CatVolunteer, "volunteer": CatVolunteer,
	"应急队伍": CatResponder, "responder": CatResponder, "emergency_team": CatResponder,
	"网格员": CatGridWorker, "grid_worker": CatGridWorker,
	"领导干部": CatOfficial, "official": CatOfficial,
}

// Categories lists the canonical categories in a fixed order.
func Categories() []Category {
	return []Category{CatPartyMember, CatDeputy, CatCPPCC, CatLeague, CatCommunityCadre, CatSecondedCadre,
		CatActivist, CatProperty, CatVolunteer, CatResponder, CatGridWorker, CatOfficial}
}

// ParseCategory accepts a Chinese or English category name.
func ParseCategory(s string) (Category, error) {
	if c, ok := categoryNames[strings.ToLower(strings.TrimSpace(s))]; ok {
		return c, nil
	}
	return "", muster.Errorf(muster.EInvalid, "category %q: want one of %s", s, strings.Join(categoryList(), "/"))
}

func categoryList() []string {
	var out []string
	for _, c := range Categories() {
		out = append(out, string(c))
	}
	return out
}

// Language is the language a person is called in.
type Language string

// Supported languages.
const (
	LangZH Language = "zh"
	LangEN Language = "en"
)

// ParseLanguage accepts zh/en and common spellings; empty means zh.
func ParseLanguage(s string) (Language, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "zh", "zh-cn", "cn", "中文", "chinese":
		return LangZH, nil
	case "en", "en-us", "english", "英文", "英语":
		return LangEN, nil
	}
	return "", muster.Errorf(muster.EInvalid, "language %q: want zh or en", s)
}

// Person is one member of the mobilization roster.
type Person struct {
	ID         PersonID   `json:"id"`
	ExternalID string     `json:"external_id,omitempty"` // the organisation's own ID (工号/编号), used to match re-imports
	Name       string     `json:"name"`
	Phones     []string   `json:"phones"` // E.164, the first is the one called first
	Grid       RegionCode `json:"grid"`
	Category   Category   `json:"category"`
	Tags       []string   `json:"tags,omitempty"`
	Teams      []string   `json:"teams,omitempty"`
	Backup     PersonID   `json:"backup,omitempty"` // who is called when this person does not answer
	Language   Language   `json:"language"`
}

// Equal reports whether two people hold the same data.
func (p Person) Equal(q Person) bool {
	return p.ID == q.ID && p.ExternalID == q.ExternalID && p.Name == q.Name && slices.Equal(p.Phones, q.Phones) &&
		p.Grid == q.Grid && p.Category == q.Category && slices.Equal(p.Tags, q.Tags) &&
		slices.Equal(p.Teams, q.Teams) && p.Backup == q.Backup && p.Language == q.Language
}

// ETag names this version of the person's data: any change to any field
// gives another. A keeper who read a person sends it back (If-Match) with
// the change, and the change is refused if someone else changed the person
// in between. It is a quoted string, as HTTP's ETag header carries it.
func (p Person) ETag() string {
	b, _ := json.Marshal(p)
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:8]) + `"`
}

// HasTag reports whether the person carries tag t.
func (p Person) HasTag(t string) bool { return slices.Contains(p.Tags, t) }

// InTeam reports whether the person belongs to team t.
func (p Person) InTeam(t string) bool { return slices.Contains(p.Teams, t) }
