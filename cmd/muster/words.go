package main

import (
	"strings"

	"muster"
	"muster/plans"
)

// plural is one for a count of 1, many for any other.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// count is n with the noun that agrees with it: "1 person", "3 people".
func count[N ~int | ~int64](n N, one, many string) string {
	return muster.Count(int(n), one, many)
}

// levelLabel is a response level as the CLI writes it in Chinese: IV级,
// with no space.
func levelLabel(code plans.LevelCode) string { return string(code) + "级" }

// purposeMark is the one Chinese label of a drill purpose, as a mark:
// 【演练】 for EXERCISE, 【测试】 for TEST (the console's badges); "" for
// LIVE (实战), which the CLI does not mark. In English the CLI labels a
// purpose in capitals, as it is stored: LIVE, EXERCISE, TEST. (Every
// EXERCISE and TEST message starts with 【演练】, plans.ExerciseMark: that
// is the text people receive, not a label.)
func purposeMark(purpose string) string {
	switch strings.ToUpper(purpose) {
	case "EXERCISE":
		return "【演练】"
	case "TEST":
		return "【测试】"
	}
	return ""
}
