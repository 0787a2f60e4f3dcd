package capture

import "bytes"

// eventSink receives the events a scanner finds. ev is valid only during
// the call: it is a part of the caller's read buffer or of the scanner's
// carry buffer, both reused.
type eventSink interface {
	event(ev []byte)
	// overflow reports that an event longer than the scanner's limit ended;
	// its bytes were not kept.
	overflow()
}

// lineState is what the current line holds at the end of a chunk: the
// scanner needs it to tell a blank line split across two reads.
type lineState uint8

const (
	lineEmpty lineState = iota // at the start of a line
	lineCR                     // a lone '\r' so far: "\r\n" would make the line blank
	lineText                   // anything else: the line is not blank
)

// sseScanner splits a server-sent event stream into events, one chunk (one
// Read's bytes) at a time, without reading ahead and without copying an
// event that lies within one chunk.
//
// Lines end with "\n" or "\r\n", as the SDKs' decoders (bufio.ScanLines)
// read them; an event ends with a blank line ("\n" or "\r\n"). An event's
// bytes run from its first byte through the '\n' of the blank line that
// ends it, so consecutive blank lines make events of one blank line each.
// Bytes after the last blank line (an unterminated event at the end of the
// stream) are never delivered, as the SDKs drop them too. A lone '\r' does
// not end a line (no provider or SDK uses it).
//
// An event split across chunks is gathered in carry, at most max bytes; a
// longer one is dropped (its bytes are not kept) and reported with
// eventSink.overflow when it ends.
type sseScanner struct {
	gather
	line lineState // the current line at the end of the last chunk
}

// gather holds the bytes of an event split across chunks.
type gather struct {
	carry []byte // the current event's bytes from earlier chunks
	over  bool   // the current event has outgrown max; carry is not filled
	max   int    // the longest event gathered across chunks
}

// feed scans the chunk p, calling sink for every event that ends in it. It
// never retains p.
func (s *sseScanner) feed(p []byte, sink eventSink) {
	evStart, i, st := 0, 0, s.line // st: the state of the line starting at i
	for i < len(p) {
		j := bytes.IndexByte(p[i:], '\n')
		if j < 0 {
			break
		}
		nl := i + j
		if (st == lineEmpty && (j == 0 || (j == 1 && p[i] == '\r'))) || (st == lineCR && j == 0) {
			s.emit(p[evStart:nl+1], sink) // a blank line ends the event
			evStart = nl + 1
		}
		i, st = nl+1, lineEmpty
		// A blank line right after a line ends the event: no need to
		// search for its '\n'.
		switch {
		case i < len(p) && p[i] == '\n':
			i++
		case i+1 < len(p) && p[i] == '\r' && p[i+1] == '\n':
			i += 2
		default:
			continue
		}
		s.emit(p[evStart:i], sink)
		evStart = i
	}
	s.line = tailState(st, p[i:])
	s.keep(p[evStart:])
}

// tailState is the state of a line that was in state st and then received
// the bytes tail, none of them '\n'.
func tailState(st lineState, tail []byte) lineState {
	switch {
	case len(tail) == 0:
		return st
	case st == lineEmpty && len(tail) == 1 && tail[0] == '\r':
		return lineCR
	}
	return lineText
}

// emit delivers the event ending with tail (the carried bytes before it).
func (s *gather) emit(tail []byte, sink eventSink) {
	switch {
	case s.over:
		s.over = false
		s.carry = s.carry[:0]
		sink.overflow()
	case len(s.carry) == 0:
		sink.event(tail)
	default:
		if len(s.carry)+len(tail) > s.max {
			s.carry = s.carry[:0]
			sink.overflow()
			return
		}
		s.carry = append(s.carry, tail...)
		sink.event(s.carry)
		s.carry = s.carry[:0]
	}
}

// keep carries b, the start of an event not yet ended, to the next chunk.
func (s *gather) keep(b []byte) {
	if len(b) == 0 || s.over {
		return
	}
	if len(s.carry)+len(b) > s.max {
		s.over = true
		s.carry = s.carry[:0]
		return
	}
	s.carry = append(s.carry, b...)
}

// arrayScanner splits a stream of JSON values into its objects, one chunk
// at a time: the elements of a top-level array (Gemini's
// streamGenerateContent without alt=sse sends "[{...}\n,\r\n{...}]"), or a
// top-level object itself. It tracks nesting and strings byte by byte, so
// braces inside strings do not count. Bytes outside those objects (the
// brackets, commas, whitespace) are skipped; malformed JSON yields whatever
// objects the nesting delimits, never a panic.
//
// An object split across chunks is gathered in carry, at most max bytes,
// as by sseScanner.
type arrayScanner struct {
	gather
	depth  int  // open brackets and braces
	base   int  // the depth at which the current object was opened
	inObj  bool // inside an object to deliver
	inStr  bool // inside a string
	esc    bool // inside a string, after an unescaped backslash
	topArr bool // the top-level value is an array
}

func (s *arrayScanner) feed(p []byte, sink eventSink) {
	start := 0 // start in p of the current object's bytes
	for i := 0; i < len(p); i++ {
		if s.inStr {
			// Skip to the closing quote: the next one not escaped by an odd
			// run of backslashes (the run may begin in an earlier chunk:
			// s.esc says an escape is pending at p's start).
			j := bytes.IndexByte(p[i:], '"')
			if j < 0 {
				s.esc = escapePending(p, i, len(p), s.esc)
				s.keepTail(p, start)
				return
			}
			q := i + j
			if escapePending(p, i, q, s.esc) {
				s.esc, i = false, q // an escaped quote: the string goes on
				continue
			}
			s.inStr, s.esc, i = false, false, q
			continue
		}
		switch p[i] {
		case '"':
			s.inStr = true
		case '[', '{':
			c := p[i]
			if !s.inObj && (s.depth == 0 || (s.depth == 1 && s.topArr)) && c == '{' {
				s.inObj, s.base, start = true, s.depth, i
			}
			if s.depth == 0 {
				s.topArr = c == '['
			}
			s.depth++
		case ']', '}':
			if s.depth > 0 {
				s.depth--
			}
			if s.inObj && s.depth == s.base {
				s.inObj = false
				s.emit(p[start:i+1], sink)
			}
		}
	}
	s.keepTail(p, start)
}

// keepTail carries the unfinished object that starts at p[start] (or
// earlier) to the next chunk.
func (s *arrayScanner) keepTail(p []byte, start int) {
	if s.inObj {
		s.keep(p[start:])
	}
}

// escapePending reports whether, inside a string, the byte at p[end] is
// escaped: whether the run of backslashes before it is odd, counting an
// escape pending at p[start] (carried, from an earlier chunk) if the run
// reaches back to start.
func escapePending(p []byte, start, end int, carried bool) bool {
	r := end
	for r > start && p[r-1] == '\\' {
		r--
	}
	odd := (end-r)%2 == 1
	if r == start && carried {
		return !odd
	}
	return odd
}
