package examples

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"

	"muster/plans"
)

// RosterHeader is the header line GenerateRoster writes.
const RosterHeader = "编号,姓名,手机,网格,类别,标签,队伍,备用联系人,语言"

// mobilePrefixes are Chinese mobile prefixes in which libphonenumber accepts
// every eight-digit suffix.
var mobilePrefixes = [...]string{
	"130", "131", "132", "133", "134", "135", "136", "137", "138", "139",
	"150", "151", "152", "153", "155", "156", "157", "158", "159", "166",
	"173", "175", "176", "177", "178", "180", "181", "182", "183", "184",
	"185", "186", "187", "188", "189", "191", "193", "195", "196", "197",
	"198", "199",
}

// maxRoster bounds n: every person may have two phones, all distinct.
const maxRoster = 100_000_000

// GenerateRoster writes a UTF-8 CSV roster of n fictional people living in
// grids, with the header RosterHeader, that plans.ParseRoster reads without
// errors. The output depends only on n, seed and grids. Rows are produced
// one at a time into a reused buffer, so any n streams in constant memory.
//
// Every phone is a valid, distinct Chinese mobile; about 8% of people have a
// second one, a few are spelled with spaces or +86. When n is at least
// len(grids), the first len(grids) people are each grid's leader (社区干部
// tagged 网格长), followed in each district (first six digits of the grid
// code) by a 领导干部 tagged 指挥长 and one tagged 值班领导. Everyone else
// is drawn from a realistic mix: many 党员, 志愿者, 居民骨干 and 网格员, fewer
// 团员, 应急队伍, 社区干部, 下沉干部, 物业, 人大代表, 政协委员, with skill
// tags (防汛, 医疗, …) and teams (防汛抢险队, …) that fit the category. About
// 20% name a backup: another person's phone. About 5% are called in English
// (语言 en) and have pinyin names.
func GenerateRoster(w io.Writer, n int, seed int64, grids []plans.RegionCode) error {
	return GenerateRosterIDs(w, n, seed, grids, "P")
}

// GenerateRosterIDs is GenerateRoster with the 编号 of each row prefix and
// seven digits (P0000001…): a roster generated with another prefix adds
// people to one generated before instead of updating them.
func GenerateRosterIDs(w io.Writer, n int, seed int64, grids []plans.RegionCode, prefix string) error {
	switch {
	case !ValidIDPrefix(prefix):
		return fmt.Errorf("generate roster: ID prefix %q: want 1 to 8 letters, digits or -", prefix)
	case n < 0 || n > maxRoster:
		return fmt.Errorf("generate roster: n = %d, want 0 to %d", n, maxRoster)
	case n > 0 && len(grids) == 0:
		return fmt.Errorf("generate roster: no grids to put people in")
	}
	g := newRosterGen(n, seed, grids)
	g.prefix = prefix
	bw := bufio.NewWriterSize(w, 256<<10)
	if _, err := bw.WriteString(RosterHeader + "\n"); err != nil {
		return err
	}
	line := make([]byte, 0, 256)
	for i := range n {
		line = g.appendRow(line[:0], i)
		if _, err := bw.Write(line); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// rosterGen holds what every row of one generated roster shares.
type rosterGen struct {
	n         int
	prefix    string // of every 编号
	rng       *rand.Rand
	grids     []plans.RegionCode
	districts [][]plans.RegionCode // grids by district, districts in order of first grid
	leaders   int                  // rows before the general mix: grid leaders and district officials
	mulA      uint64               // phone permutation: k ↦ (mulA·k + addB) mod phoneSpace
	addB      uint64
	keys      [3]uint64 // round keys of the suffix shuffle
}

// phoneSpace is the number of phones GenerateRoster can make: every prefix
// with every eight-digit suffix.
const phoneSpace = uint64(len(mobilePrefixes)) * 100_000_000

func newRosterGen(n int, seed int64, grids []plans.RegionCode) *rosterGen {
	g := &rosterGen{n: n, rng: rand.New(rand.NewPCG(uint64(seed), 0x6d7573746572)), grids: grids}
	idx := map[plans.RegionCode]int{}
	for _, gc := range grids {
		d := gc
		if len(d) > 6 {
			d = d[:6]
		}
		i, ok := idx[d]
		if !ok {
			i = len(g.districts)
			idx[d] = i
			g.districts = append(g.districts, nil)
		}
		g.districts[i] = append(g.districts[i], gc)
	}
	if n >= len(grids) {
		g.leaders = min(n, len(grids)+2*len(g.districts))
	}
	// phoneSpace = 42·10^8 has the prime factors 2, 3, 5 and 7; a multiplier
	// prime to them is invertible, so k ↦ (a·k + b) mod phoneSpace is a
	// bijection: distinct k, distinct phones, in no visible order.
	g.mulA = phoneSpace/3 + g.rng.Uint64N(phoneSpace/3)
	for g.mulA%2 == 0 || g.mulA%3 == 0 || g.mulA%5 == 0 || g.mulA%7 == 0 {
		g.mulA++
	}
	g.addB = g.rng.Uint64N(phoneSpace)
	for i := range g.keys {
		g.keys[i] = g.rng.Uint64()
	}
	return g
}

// appendPhone appends the mobile number of phone index k (0 ≤ k < 2n):
// person i's first phone is k = i, their second k = n + i.
func (g *rosterGen) appendPhone(dst []byte, k int) []byte {
	x := (g.mulA*uint64(k) + g.addB) % phoneSpace
	dst = append(dst, mobilePrefixes[x/100_000_000]...)
	return appendPadded(dst, g.shuffle(x%100_000_000), 8)
}

// shuffle is a bijection of [0, 10^8): a three-round Feistel network on the
// two four-digit halves, so that suffixes show no arithmetic pattern.
func (g *rosterGen) shuffle(v uint64) uint64 {
	l, r := v/10_000, v%10_000
	for _, key := range g.keys {
		f := ((r+1)*0x9e3779b97f4a7c15 ^ key) >> 40 % 10_000
		l, r = r, (l+f)%10_000
	}
	return l*10_000 + r
}

func appendPadded(dst []byte, v uint64, width int) []byte {
	var buf [20]byte
	s := strconv.AppendUint(buf[:0], v, 10)
	for range width - len(s) {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// appendRow appends row i (0-based) with its line break.
func (g *rosterGen) appendRow(dst []byte, i int) []byte {
	r := g.rng
	var (
		grid plans.RegionCode
		cat  plans.Category
		tags [4]string
		nt   int
		team string
	)
	addTag := func(t string) {
		for _, x := range tags[:nt] {
			if x == t {
				return
			}
		}
		if nt < len(tags) {
			tags[nt] = t
			nt++
		}
	}
	switch {
	case i < g.leaders && i < len(g.grids):
		grid, cat = g.grids[i], plans.CatCommunityCadre
		addTag("网格长")
	case i < g.leaders:
		d := g.districts[(i-len(g.grids))/2]
		grid, cat = d[r.IntN(len(d))], plans.CatOfficial
		if (i-len(g.grids))%2 == 0 {
			addTag("指挥长")
		} else {
			addTag("值班领导")
		}
	default:
		grid = g.grids[r.IntN(len(g.grids))]
		cat = pickCategory(r.IntN(1000))
	}
	en := r.IntN(100) < 5

	// Teams and skills that go with the category.
	switch cat {
	case plans.CatGridWorker:
		addTag("网格员")
	case plans.CatResponder:
		t := responderTeams[pickWeighted(r.IntN(100), responderTeamWeights[:])]
		team = t.team
		addTag(t.tag)
	case plans.CatVolunteer:
		switch x := r.IntN(100); {
		case x < 60:
			team = "志愿服务队"
		case x < 70:
			team = "物资保障队"
		}
	default:
		switch x := r.IntN(100); {
		case x < 3:
			team = "物资保障队"
		case x < 5:
			team = "防汛抢险队"
			addTag("防汛")
		}
	}
	for _, s := range skillTags {
		p := s.perMille
		if en && s.tag == "翻译" {
			p = 400
		}
		if r.IntN(1000) < p {
			addTag(s.tag)
		}
	}

	// 编号
	dst = append(dst, g.prefix...)
	dst = appendPadded(dst, uint64(i+1), 7)
	dst = append(dst, ',')
	// 姓名
	dst = g.appendName(dst, en)
	dst = append(dst, ',')
	// 手机: mostly plain, some spelled with spaces or +86; ~8% have a second number.
	start := len(dst)
	dst = g.appendPhone(dst, i)
	switch x := r.IntN(100); {
	case x < 4:
		dst = spaced(dst, start)
	case x < 7:
		num := [11]byte(dst[start : start+11])
		dst = append(append(dst[:start], "+86 "...), num[:]...)
	}
	if r.IntN(100) < 8 {
		dst = append(dst, ';')
		dst = g.appendPhone(dst, g.n+i)
	}
	dst = append(dst, ',')
	// 网格, 类别
	dst = append(dst, grid...)
	dst = append(dst, ',')
	dst = append(dst, cat...)
	dst = append(dst, ',')
	// 标签, 队伍
	for j, t := range tags[:nt] {
		if j > 0 {
			dst = append(dst, ';')
		}
		dst = append(dst, t...)
	}
	dst = append(dst, ',')
	dst = append(dst, team...)
	dst = append(dst, ',')
	// 备用联系人: another person's first phone.
	if g.n > 1 && r.IntN(100) < 20 {
		j := r.IntN(g.n - 1)
		if j >= i {
			j++
		}
		dst = g.appendPhone(dst, j)
	}
	dst = append(dst, ',')
	// 语言
	if en {
		dst = append(dst, "en\n"...)
	} else {
		dst = append(dst, "zh\n"...)
	}
	return dst
}

// spaced rewrites the 11 digits at dst[start:] as "138 0013 8000".
func spaced(dst []byte, start int) []byte {
	num := [11]byte(dst[start : start+11])
	dst = append(dst[:start], num[:3]...)
	dst = append(dst, ' ')
	dst = append(dst, num[3:7]...)
	dst = append(dst, ' ')
	return append(dst, num[7:]...)
}

// appendName appends a Chinese name, or its pinyin ("Wang Xiaoming") if en.
func (g *rosterGen) appendName(dst []byte, en bool) []byte {
	r := g.rng
	// The smaller of two draws favours the common surnames at the front.
	sn := surnames[min(r.IntN(len(surnames)), r.IntN(len(surnames)))]
	given := [2]syllable{givenNames[r.IntN(len(givenNames))], givenNames[r.IntN(len(givenNames))]}
	ng := 1 + r.IntN(3)/2 // two characters twice as often as one
	if !en {
		dst = append(dst, sn.zh...)
		for _, s := range given[:ng] {
			dst = append(dst, s.zh...)
		}
		return dst
	}
	dst = appendCapital(dst, sn.py)
	dst = append(dst, ' ')
	dst = appendCapital(dst, given[0].py)
	if ng == 2 {
		dst = append(dst, given[1].py...)
	}
	return dst
}

func appendCapital(dst []byte, s string) []byte {
	dst = append(dst, s[0]-'a'+'A')
	return append(dst, s[1:]...)
}

// categoryMix is the general mix of categories, in per mille.
var categoryMix = [...]struct {
	cat      plans.Category
	perMille int
}{
	{plans.CatPartyMember, 238}, {plans.CatVolunteer, 230}, {plans.CatActivist, 140}, {plans.CatGridWorker, 120},
	{plans.CatLeague, 60}, {plans.CatResponder, 60}, {plans.CatCommunityCadre, 45}, {plans.CatSecondedCadre, 45},
	{plans.CatProperty, 40}, {plans.CatDeputy, 12}, {plans.CatCPPCC, 8}, {plans.CatOfficial, 2},
}

func pickCategory(x int) plans.Category {
	for _, c := range categoryMix {
		if x < c.perMille {
			return c.cat
		}
		x -= c.perMille
	}
	return plans.CatPartyMember
}

// responderTeams are the teams of 应急队伍 members, with the skill each implies.
var responderTeams = [...]struct{ team, tag string }{
	{"防汛抢险队", "防汛"}, {"医疗救护队", "医疗"}, {"消防救援队", "消防"}, {"危化品处置队", "危化品"},
}

var responderTeamWeights = [...]int{40, 25, 25, 10}

func pickWeighted(x int, weights []int) int {
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

// skillTags are the skills anyone may have, in per mille.
var skillTags = [...]struct {
	tag      string
	perMille int
}{
	{"防汛", 60}, {"医疗", 30}, {"消防", 20}, {"危化品", 5}, {"驾驶员", 60}, {"无人机", 10}, {"心理疏导", 15}, {"翻译", 5},
}

type syllable struct{ zh, py string }

// surnames, the most common first.
var surnames = [...]syllable{
	{"王", "wang"}, {"李", "li"}, {"张", "zhang"}, {"刘", "liu"}, {"陈", "chen"}, {"杨", "yang"}, {"黄", "huang"},
	{"赵", "zhao"}, {"吴", "wu"}, {"周", "zhou"}, {"徐", "xu"}, {"孙", "sun"}, {"马", "ma"}, {"朱", "zhu"},
	{"胡", "hu"}, {"郭", "guo"}, {"何", "he"}, {"林", "lin"}, {"高", "gao"}, {"罗", "luo"}, {"郑", "zheng"},
	{"梁", "liang"}, {"谢", "xie"}, {"宋", "song"}, {"唐", "tang"}, {"许", "xu"}, {"韩", "han"}, {"冯", "feng"},
	{"邓", "deng"}, {"曹", "cao"}, {"彭", "peng"}, {"曾", "zeng"}, {"肖", "xiao"}, {"田", "tian"}, {"董", "dong"},
	{"潘", "pan"}, {"袁", "yuan"}, {"蔡", "cai"}, {"蒋", "jiang"}, {"余", "yu"}, {"于", "yu"}, {"杜", "du"},
	{"叶", "ye"}, {"程", "cheng"}, {"魏", "wei"}, {"苏", "su"}, {"吕", "lv"}, {"丁", "ding"}, {"任", "ren"},
	{"卢", "lu"}, {"姚", "yao"}, {"沈", "shen"}, {"钟", "zhong"}, {"姜", "jiang"}, {"崔", "cui"}, {"谭", "tan"},
	{"陆", "lu"}, {"范", "fan"}, {"汪", "wang"}, {"廖", "liao"}, {"石", "shi"}, {"金", "jin"}, {"韦", "wei"},
	{"贾", "jia"}, {"夏", "xia"}, {"付", "fu"}, {"方", "fang"}, {"邹", "zou"}, {"熊", "xiong"}, {"白", "bai"},
	{"孟", "meng"}, {"秦", "qin"}, {"邱", "qiu"}, {"侯", "hou"}, {"江", "jiang"}, {"尹", "yin"}, {"薛", "xue"},
	{"闫", "yan"}, {"段", "duan"}, {"雷", "lei"}, {"龙", "long"}, {"黎", "li"}, {"史", "shi"}, {"陶", "tao"},
	{"贺", "he"}, {"毛", "mao"}, {"郝", "hao"}, {"顾", "gu"}, {"龚", "gong"}, {"邵", "shao"}, {"万", "wan"},
	{"覃", "qin"}, {"武", "wu"}, {"钱", "qian"}, {"戴", "dai"}, {"严", "yan"}, {"欧阳", "ouyang"}, {"司马", "sima"},
	{"诸葛", "zhuge"}, {"上官", "shangguan"},
}

// givenNames are characters common in given names.
var givenNames = [...]syllable{
	{"伟", "wei"}, {"芳", "fang"}, {"娜", "na"}, {"敏", "min"}, {"静", "jing"}, {"丽", "li"}, {"强", "qiang"},
	{"磊", "lei"}, {"军", "jun"}, {"洋", "yang"}, {"勇", "yong"}, {"艳", "yan"}, {"杰", "jie"}, {"娟", "juan"},
	{"涛", "tao"}, {"明", "ming"}, {"超", "chao"}, {"秀", "xiu"}, {"霞", "xia"}, {"平", "ping"}, {"刚", "gang"},
	{"桂", "gui"}, {"英", "ying"}, {"华", "hua"}, {"玉", "yu"}, {"兰", "lan"}, {"文", "wen"}, {"建", "jian"},
	{"国", "guo"}, {"志", "zhi"}, {"海", "hai"}, {"红", "hong"}, {"小", "xiao"}, {"晓", "xiao"}, {"春", "chun"},
	{"梅", "mei"}, {"林", "lin"}, {"斌", "bin"}, {"波", "bo"}, {"宇", "yu"}, {"浩", "hao"}, {"凯", "kai"},
	{"鹏", "peng"}, {"辉", "hui"}, {"鑫", "xin"}, {"婷", "ting"}, {"雪", "xue"}, {"琳", "lin"}, {"佳", "jia"},
	{"欣", "xin"}, {"怡", "yi"}, {"嘉", "jia"}, {"子", "zi"}, {"涵", "han"}, {"轩", "xuan"}, {"博", "bo"},
	{"思", "si"}, {"雨", "yu"}, {"晨", "chen"}, {"阳", "yang"}, {"峰", "feng"}, {"成", "cheng"}, {"荣", "rong"},
	{"金", "jin"}, {"德", "de"}, {"福", "fu"}, {"生", "sheng"}, {"龙", "long"}, {"东", "dong"}, {"新", "xin"},
	{"宁", "ning"}, {"欢", "huan"}, {"颖", "ying"}, {"倩", "qian"}, {"慧", "hui"}, {"莉", "li"}, {"琴", "qin"},
	{"云", "yun"}, {"燕", "yan"}, {"飞", "fei"}, {"俊", "jun"}, {"帆", "fan"}, {"瑶", "yao"}, {"萍", "ping"},
}

// ValidIDPrefix reports whether p may begin the 编号 of generated rows.
func ValidIDPrefix(p string) bool {
	if p == "" || len(p) > 8 {
		return false
	}
	for _, c := range p {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
