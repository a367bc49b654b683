package examples

import (
	"bufio"
	"fmt"
	"io"

	"muster/plans"
)

// The demo city: 示例市, a fictional city with code 990100 (99 is no real
// province, so the codes never collide with GB/T 2260).
const (
	CityCode   plans.RegionCode = "990100"
	CityName                    = "示例市"
	CityNameEN                  = "Example City"
)

// Shape of the demo city.
const (
	DistrictsPerCity       = 6
	StreetsPerDistrict     = 4
	CommunitiesPerStreet   = 5
	GridsPerCommunity      = 10
	cityRegionCount        = 1 + DistrictsPerCity*(1+StreetsPerDistrict*(1+CommunitiesPerStreet*(1+GridsPerCommunity)))
	cityGridCount          = DistrictsPerCity * StreetsPerDistrict * CommunitiesPerStreet * GridsPerCommunity
	communityNameBaseCount = DistrictsPerCity * StreetsPerDistrict * CommunitiesPerStreet / len(communitySuffixes)
)

var districtNames = [DistrictsPerCity]string{"东湖区", "江北区", "临江区", "西林区", "南屏区", "高新区"}

// districtNamesEN are the districts' English names (pinyin), which English
// speakers' messages say; streets, communities and grids have none, so
// those messages fall back to their Chinese names.
var districtNamesEN = [DistrictsPerCity]string{
	"Donghu District", "Jiangbei District", "Linjiang District", "Xilin District", "Nanping District", "Gaoxin District",
}

var streetNames = [DistrictsPerCity][StreetsPerDistrict]string{
	{"青山街道", "湖滨街道", "东亭街道", "梨园街道"},
	{"大桥街道", "柳林街道", "北苑街道", "江滩街道"},
	{"滨江街道", "望江街道", "观澜街道", "沙洲街道"},
	{"西林街道", "松柏街道", "竹园街道", "枫桥街道"},
	{"南屏街道", "白沙街道", "金桥街道", "凤凰街道"},
	{"创新街道", "科苑街道", "未来城街道", "龙泉街道"},
}

// Community names are a base and a suffix: 幸福里, 幸福苑, 幸福园, … every
// combination once.
var (
	communityBases = [communityNameBaseCount]string{
		"幸福", "和平", "光明", "春晖", "朝阳", "长青", "安康", "明珠", "锦绣", "翠竹",
		"桃源", "杏林", "兰亭", "紫荆", "丹桂", "银杏", "海棠", "芙蓉", "玉泉", "清水",
		"碧波", "白云", "彩虹", "新华", "建设", "民主", "团结", "友谊", "胜利", "东风",
		"红旗", "育才", "书香", "文昌", "永安", "福寿", "吉祥", "康乐", "平安", "如意",
	}
	communitySuffixes = [...]string{"里", "苑", "园"}
)

// CityRegions returns the demo city's region tree, parents before children:
// the city, 6 districts (990101–990106), 4 streets each (9 digits), 5
// communities per street (12 digits) and 10 grids per community (15 digits,
// the community's code and 001–010). The city and the districts have
// English names. It is the same on every call.
func CityRegions() []plans.Region {
	out := make([]plans.Region, 0, cityRegionCount)
	out = append(out, plans.Region{Code: CityCode, Name: CityName, NameEN: CityNameEN, Kind: plans.KindCity})
	community := 0
	for d := range DistrictsPerCity {
		dc := plans.RegionCode(fmt.Sprintf("%s%02d", CityCode[:4], d+1))
		out = append(out, plans.Region{Code: dc, Name: districtNames[d], NameEN: districtNamesEN[d], Kind: plans.KindDistrict, Parent: CityCode})
		for s := range StreetsPerDistrict {
			sc := plans.RegionCode(fmt.Sprintf("%s%03d", dc, s+1))
			out = append(out, plans.Region{Code: sc, Name: streetNames[d][s], Kind: plans.KindStreet, Parent: dc})
			for c := range CommunitiesPerStreet {
				cc := plans.RegionCode(fmt.Sprintf("%s%03d", sc, c+1))
				name := communityBases[community%len(communityBases)] + communitySuffixes[community/len(communityBases)] + "社区"
				community++
				out = append(out, plans.Region{Code: cc, Name: name, Kind: plans.KindCommunity, Parent: sc})
				for g := range GridsPerCommunity {
					gc := plans.RegionCode(fmt.Sprintf("%s%03d", cc, g+1))
					out = append(out, plans.Region{Code: gc, Name: fmt.Sprintf("%s第%d网格", name, g+1), Kind: plans.KindGrid, Parent: cc})
				}
			}
		}
	}
	return out
}

// kindNames are the Chinese kind names written to region files.
var kindNames = map[plans.RegionKind]string{
	plans.KindCity: "市", plans.KindDistrict: "区", plans.KindStreet: "街道",
	plans.KindCommunity: "社区", plans.KindGrid: "网格",
}

// WriteRegionsCSV writes regions as a UTF-8 CSV file that ParseRegions
// reads: header 编码,名称,级别,上级,英文名 and one line per region with its
// kind in Chinese (the English name cell empty for a region without one).
// The output depends only on regions.
func WriteRegionsCSV(w io.Writer, regions []plans.Region) error {
	bw := bufio.NewWriter(w)
	if _, err := bw.WriteString("编码,名称,级别,上级,英文名\n"); err != nil {
		return err
	}
	for _, r := range regions {
		kind, ok := kindNames[r.Kind]
		if !ok {
			return fmt.Errorf("region %s: unknown kind %q", r.Code, r.Kind)
		}
		if _, err := fmt.Fprintf(bw, "%s,%s,%s,%s,%s\n", r.Code, r.Name, kind, r.Parent, r.NameEN); err != nil {
			return err
		}
	}
	return bw.Flush()
}
