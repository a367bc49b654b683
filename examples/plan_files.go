package examples

import (
	"embed"
	"io/fs"
	"sort"
)

//go:embed plans/*.yaml
var planFS embed.FS

// EveryonePlan is a plan (id everyone) whose level IV calls up everyone in
// the demo city: for tests and benchmarks of large call-ups. It is not one
// of the demo plans muster dev loads.
//
//go:embed everyone.yaml
var EveryonePlan []byte

// PlanFile is one example plan as a file.
type PlanFile struct {
	Name string // e.g. flood.yaml
	Data []byte
}

// Plans returns the example plans (flood control, public health, hazardous
// chemicals fire), sorted by file name.
func Plans() ([]PlanFile, error) {
	entries, err := fs.ReadDir(planFS, "plans")
	if err != nil {
		return nil, err
	}
	var out []PlanFile
	for _, e := range entries {
		data, err := planFS.ReadFile("plans/" + e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, PlanFile{Name: e.Name(), Data: data})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
