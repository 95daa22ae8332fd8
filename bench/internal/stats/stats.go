// Package stats holds the little statistics the benchmark helpers share.
package stats

import (
	"math"
	"sort"
)

// Median of v (the mean of the middle two for an even count); NaN when
// empty. v is not changed.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}
