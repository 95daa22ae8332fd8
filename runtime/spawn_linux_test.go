package runtime

import (
	"encoding/json"
	"io"
	"os"
	"testing"
)

func TestSendEncodesLikeEncodingJSON(t *testing.T) {
	for _, m := range []syncMsg{{Type: msgOK}, {Type: msgReady}, {Type: "a\"b"}, {Type: msgError, Error: "x"}, {Type: msgSeccomp, Fd: 3}} {
		want, _ := json.Marshal(m)
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := (&child{conn: w}).send(m); err != nil {
			t.Fatal(err)
		}
		w.Close()
		got, _ := io.ReadAll(r)
		r.Close()
		if string(got) != string(want)+"\n" {
			t.Errorf("%+v: sent %q, encoding/json %q", m, got, want)
		}
	}
}
