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
