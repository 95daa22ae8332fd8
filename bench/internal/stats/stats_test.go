package stats

import (
	"math"
	"testing"
)

func TestMedian(t *testing.T) {
	in := []float64{3, 1, 2, 10}
	if got := Median(in); got != 2.5 {
		t.Errorf("Median even = %v", got)
	}
	if in[0] != 3 {
		t.Errorf("Median sorted its input")
	}
	if got := Median([]float64{5, 1, 9}); got != 5 {
		t.Errorf("Median odd = %v", got)
	}
	if !math.IsNaN(Median(nil)) {
		t.Errorf("Median of nothing is not NaN")
	}
}

func TestMinMax(t *testing.T) {
	if lo, hi := MinMax([]float64{3, -1, 7, 2}); lo != -1 || hi != 7 {
		t.Errorf("MinMax = %v, %v", lo, hi)
	}
	if lo, hi := MinMax(nil); !math.IsNaN(lo) || !math.IsNaN(hi) {
		t.Errorf("MinMax of nothing = %v, %v, not NaN", lo, hi)
	}
}
