package cap

import (
	"strings"

	"muster"
)

// Purpose says whether an activation or warning is real: LIVE, EXERCISE or
// TEST, as muster fixes it at creation.
type Purpose string

// Purposes.
const (
	PurposeLive     Purpose = "LIVE"
	PurposeExercise Purpose = "EXERCISE"
	PurposeTest     Purpose = "TEST"
)

// Status maps the purpose to CAP: LIVE is Actual, EXERCISE is Exercise and
// TEST is Test. Any other purpose is a muster.EInvalid error.
func (p Purpose) Status() (Status, error) {
	switch p {
	case PurposeLive:
		return StatusActual, nil
	case PurposeExercise:
		return StatusExercise, nil
	case PurposeTest:
		return StatusTest, nil
	}
	return "", muster.Errorf(muster.EInvalid, "purpose %q: want LIVE, EXERCISE or TEST", p)
}

// Level is a response level (响应级别): I is the most severe (特别重大), IV the
// least (一般), in ASCII numerals.
type Level string

// Response levels, most severe first.
const (
	LevelI   Level = "I"
	LevelII  Level = "II"
	LevelIII Level = "III"
	LevelIV  Level = "IV"
)

// Severity maps the level to CAP: I Extreme, II Severe, III Moderate, IV
// Minor. Any other level is a muster.EInvalid error.
func (l Level) Severity() (Severity, error) {
	switch l {
	case LevelI:
		return SeverityExtreme, nil
	case LevelII:
		return SeveritySevere, nil
	case LevelIII:
		return SeverityModerate, nil
	case LevelIV:
		return SeverityMinor, nil
	}
	return "", muster.Errorf(muster.EInvalid, "level %q: want I, II, III or IV", l)
}

// Colour is a warning level (预警级别) by its colour: red (一级) is the
// highest, blue (四级) the lowest.
type Colour string

// Warning colours, highest first.
const (
	ColourRed    Colour = "red"
	ColourOrange Colour = "orange"
	ColourYellow Colour = "yellow"
	ColourBlue   Colour = "blue"
)

// Severity maps the colour to CAP: red Extreme, orange Severe, yellow
// Moderate, blue Minor. Any other colour is a muster.EInvalid error.
func (c Colour) Severity() (Severity, error) {
	switch c {
	case ColourRed:
		return SeverityExtreme, nil
	case ColourOrange:
		return SeveritySevere, nil
	case ColourYellow:
		return SeverityModerate, nil
	case ColourBlue:
		return SeverityMinor, nil
	}
	return "", muster.Errorf(muster.EInvalid, "warning colour %q: want red, orange, yellow or blue", c)
}

// Hazard is an emergency category of the Emergency Response Law (突发事件类别),
// by its Chinese name.
type Hazard string

// Hazard categories.
const (
	HazardNatural        Hazard = "自然灾害" // natural disaster
	HazardAccident       Hazard = "事故灾难" // accident
	HazardPublicHealth   Hazard = "公共卫生" // public health event
	HazardSocialSecurity Hazard = "社会安全" // social security event
)

// DefaultCategory is the CAP category to use for a hazard when nothing more
// specific is known: 自然灾害 Met (floods, rainstorms and typhoons are a
// city's usual natural disasters; pass Geo for an earthquake or landslide),
// 事故灾难 Safety (pass Fire, Transport, Infra, CBRNE or Env when the accident
// is one of those), 公共卫生 Health and 社会安全 Security. The names with 事件
// (公共卫生事件, 社会安全事件) are accepted too. Any other hazard is a
// muster.EInvalid error.
func DefaultCategory(h Hazard) (Category, error) {
	switch Hazard(strings.TrimSuffix(strings.TrimSpace(string(h)), "事件")) {
	case HazardNatural:
		return CategoryMet, nil
	case HazardAccident:
		return CategorySafety, nil
	case HazardPublicHealth:
		return CategoryHealth, nil
	case HazardSocialSecurity:
		return CategorySecurity, nil
	}
	return "", muster.Errorf(muster.EInvalid, "hazard %q: want 自然灾害, 事故灾难, 公共卫生 or 社会安全", h)
}
