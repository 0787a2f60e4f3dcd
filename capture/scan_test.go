package capture

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// events collects what a scanner delivers: copies of the events, and
// "<overflow>" for each event dropped.
type events struct {
	got []string
	max int // events longer than max count as overflows, wherever they lie
}

func (e *events) event(ev []byte) {
	if e.max > 0 && len(ev) > e.max {
		e.overflow()
		return
	}
	e.got = append(e.got, string(ev))
}
func (e *events) overflow() { e.got = append(e.got, "<overflow>") }

// refSSE splits a whole stream into events the simple way: line by line,
// an event ends with a line that is "\n" or "\r\n"; bytes after the last
// such line are not an event.
func refSSE(data []byte, max int) []string {
	var out []string
	var cur []byte
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		line := data[:i+1]
		data = data[i+1:]
		cur = append(cur, line...)
		if string(line) == "\n" || string(line) == "\r\n" {
			if len(cur) > max {
				out = append(out, "<overflow>")
			} else {
				out = append(out, string(cur))
			}
			cur = nil
		}
	}
	return out
}

// refArray finds the objects of a JSON array stream (or a top-level
// object) the simple way: byte by byte, on the whole input.
func refArray(data []byte) []string {
	var out []string
	depth, base, start := 0, 0, 0
	inObj, inStr, esc, topArr := false, false, false, false
	for i, c := range data {
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '[', '{':
			if !inObj && c == '{' && (depth == 0 || (depth == 1 && topArr)) {
				inObj, base, start = true, depth, i
			}
			if depth == 0 {
				topArr = c == '['
			}
			depth++
		case ']', '}':
			if depth > 0 {
				depth--
			}
			if inObj && depth == base {
				inObj = false
				out = append(out, string(data[start:i+1]))
			}
		}
	}
	return out
}

// feedSplit feeds data to feed in chunks cut at cuts (sorted offsets).
func feedSplit(data []byte, cuts []int, feed func([]byte)) {
	prev := 0
	for _, c := range cuts {
		feed(data[prev:c])
		prev = c
	}
	feed(data[prev:])
}

const sampleSSE = "event: message_start\ndata: {\"type\":\"message_start\"}\n\n" +
	": a comment\r\n\r\n" +
	"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3}}\r\n\r\n" +
	"data: a\ndata: b\n\n\n\n" +
	"data: \r\n\r\r\n\n" + // "\r\r\n" is not a blank line: "\r" then "\r\n"
	"data: [DONE]\n\n" +
	"data: unterminated"

func TestSSEScannerEveryTwoWaySplit(t *testing.T) {
	data := []byte(sampleSSE)
	want := refSSE(data, 1<<20)
	if len(want) != 8 {
		t.Fatalf("reference found %d events: %q", len(want), want)
	}
	for i := 0; i <= len(data); i++ {
		for j := i; j <= len(data); j++ {
			s := sseScanner{gather: gather{max: 1 << 20}}
			var e events
			feedSplit(data, []int{i, j}, func(p []byte) { s.feed(p, &e) })
			if !slices.Equal(e.got, want) {
				t.Fatalf("cut at %d, %d: events\n%q\nwant\n%q", i, j, e.got, want)
			}
		}
	}
}

func TestSSEScannerByteAtATime(t *testing.T) {
	data := []byte(sampleSSE)
	s := sseScanner{gather: gather{max: 1 << 20}}
	var e events
	for i := range data {
		s.feed(data[i:i+1], &e)
	}
	if want := refSSE(data, 1<<20); !slices.Equal(e.got, want) {
		t.Fatalf("events\n%q\nwant\n%q", e.got, want)
	}
}

// Events longer than max are dropped and reported, in whatever chunks
// they come; the scanner keeps no more than max bytes.
func TestSSEScannerOverflow(t *testing.T) {
	long := "data: " + strings.Repeat("x", 100) + "\n\n"
	data := []byte("data: short\n\n" + long + "data: after\n\n")
	const max = 50
	want := []string{"data: short\n\n", "<overflow>", "data: after\n\n"}
	for _, chunk := range []int{1, 7, 50, 1000} {
		s := sseScanner{gather: gather{max: max}}
		e := events{max: max}
		for i := 0; i < len(data); i += chunk {
			s.feed(data[i:min(i+chunk, len(data))], &e)
			if cap(s.carry) > 2*max {
				t.Fatalf("chunk %d: carry grew to %d bytes", chunk, cap(s.carry))
			}
		}
		if !slices.Equal(e.got, want) {
			t.Errorf("chunk %d: events %q, want %q", chunk, e.got, want)
		}
	}
}

func TestArrayScanner(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`[{"a":1}\r\n,\r\n{"b":"}{]["}]`, []string{`{"a":1}`, `{"b":"}{]["}`}},
		{`[{"s":"\"}"},{"n":{"x":[1,{"y":2}]}}]`, []string{`{"s":"\"}"}`, `{"n":{"x":[1,{"y":2}]}}`}},
		{`{"top":"level"}`, []string{`{"top":"level"}`}},
		{`[1, "x", {"a":"\\"}, [{"nested":true}]]`, []string{`{"a":"\\"}`}},
		{`[{"cut":`, nil},
		{`[{"a":"\\\\\"}"}, {"b":"\\\\"}]`, []string{`{"a":"\\\\\"}"}`, `{"b":"\\\\"}`}}, // 5 and 4 backslashes
		{`]]}}[{"after":"junk"}]`, []string{`{"after":"junk"}`}},
	} {
		data := []byte(tc.in)
		for i := 0; i <= len(data); i++ {
			s := arrayScanner{gather: gather{max: 1 << 20}}
			var e events
			feedSplit(data, []int{i}, func(p []byte) { s.feed(p, &e) })
			if !slices.Equal(e.got, tc.want) || !slices.Equal(refArray(data), tc.want) {
				t.Fatalf("%s cut at %d: %q (reference %q), want %q", tc.in, i, e.got, refArray(data), tc.want)
			}
		}
	}
}

// randomCuts returns sorted offsets cutting n bytes into chunks.
func randomCuts(r *rand.Rand, n int) []int {
	var cuts []int
	for i := 0; i < n; {
		i += 1 + r.IntN(1+r.IntN(64))
		if i < n {
			cuts = append(cuts, i)
		}
	}
	return cuts
}

func TestRandomSplitsOfRealStreams(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var sb strings.Builder
	for i := range 200 {
		nl := "\n"
		if i%3 == 0 {
			nl = "\r\n"
		}
		fmt.Fprintf(&sb, "event: e%d%sdata: {\"i\":%d,\"text\":\"%s\"}%s%s", i, nl, i, strings.Repeat("y", r.IntN(300)), nl, nl)
	}
	data := []byte(sb.String())
	want := refSSE(data, 1<<20)
	for range 200 {
		s := sseScanner{gather: gather{max: 1 << 20}}
		var e events
		feedSplit(data, randomCuts(r, len(data)), func(p []byte) { s.feed(p, &e) })
		if !slices.Equal(e.got, want) {
			t.Fatal("events differ from the reference")
		}
	}
}
