package engine

import (
	"crypto/rand"
	"math/big"
	"strconv"
)

// Generated names are "adjective_noun", as Docker's are (our own words).
var (
	nameLeft = []string{
		"amber", "brave", "calm", "clever", "cosmic", "daring", "eager", "fearless", "gentle", "happy",
		"jolly", "keen", "lively", "lucid", "merry", "nimble", "patient", "quiet", "rapid", "serene",
		"sharp", "steady", "swift", "tender", "upbeat", "vivid", "witty", "zealous", "bold", "crisp",
	}
	nameRight = []string{
		"anchor", "beacon", "cove", "current", "dock", "ferry", "galley", "harbor", "jetty", "keel",
		"lagoon", "mast", "marina", "oar", "pier", "quay", "reef", "rudder", "sail", "schooner",
		"skiff", "sloop", "tide", "tug", "voyage", "wharf", "yacht", "compass", "lighthouse", "buoy",
	}
)

func pick(xs []string) string {
	n, err := rand.Int(rand.Reader, big.NewInt(int64(len(xs))))
	if err != nil {
		panic(err)
	}
	return xs[n.Int64()]
}

// freeName returns a generated name not in use. e.mu is held.
func (e *Engine) freeName() string {
	for i := 0; ; i++ {
		n := pick(nameLeft) + "_" + pick(nameRight)
		if i >= 10 {
			n += strconv.Itoa(i)
		}
		if _, taken := e.names[n]; !taken {
			return n
		}
	}
}
