package capture

import "bytes"

// Byte-level probes of JSON text. They decide which events are worth a
// JSON decode, so they must be cheap and must never miss: a key of a JSON
// object is a string with unescaped quotes, so searching for `"usage"`
// finds every "usage" key (and, rarely, a string value "usage", which
// the check of what follows the colon tells apart). A false positive only
// costs a decode, which is authoritative.

// A jsonKey is a quoted JSON key and the index of its rarest byte, the one
// findValue looks for.
type jsonKey struct {
	quoted string
	anchor int
}

func newKey(name string) jsonKey {
	q := `"` + name + `"`
	return jsonKey{quoted: q, anchor: anchor(q)}
}

var (
	keyUsage            = newKey("usage")
	keyUsageMetadata    = newKey("usageMetadata")
	keyType             = newKey("type")
	keyCandidates       = newKey("candidates")
	keyContent          = newKey("content")
	keyReasoningContent = newKey("reasoning_content")
	keyReasoning        = newKey("reasoning")
	keyRefusal          = newKey("refusal")
	keyToolCalls        = newKey("tool_calls")
	keyFinishReason     = newKey("finishReason")

	prefixResponse = []byte("response.")
	suffixDelta    = []byte(".delta")
	prefixEvent    = []byte("event:")
	prefixData     = []byte("data:")
	suffixNoUsage  = []byte(`"usage":null}`)
	done           = []byte("[DONE]")
)

// valueAfter returns the index of the first byte of the value that
// follows a key ending just before end (whitespace, ':', whitespace), or
// -1 if no ':' and value follow.
func valueAfter(b []byte, end int) int {
	i := skipSpace(b, end)
	if i >= len(b) || b[i] != ':' {
		return -1
	}
	i = skipSpace(b, i+1)
	if i >= len(b) {
		return -1
	}
	return i
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// findValue returns the index of the value of the first occurrence of key
// whose value starts with a byte accepted by ok, or -1.
//
// It looks for key's rarest byte with the vectorised bytes.IndexByte and
// compares key around each hit: bytes.Index would anchor on the opening
// quote, the commonest byte of JSON, and fall back to a slow search.
func findValue(b []byte, key jsonKey, ok func(b []byte, v int) bool) int {
	q, a := key.quoted, key.anchor
	c, n := q[a], len(q)
	for off := a; off < len(b); {
		k := bytes.IndexByte(b[off:], c)
		if k < 0 {
			return -1
		}
		k += off - a // where key would start
		off = k + a + 1
		if k+n > len(b) || b[k] != '"' || b[k+n-1] != '"' || string(b[k:k+n]) != q {
			continue
		}
		if v := valueAfter(b, k+n); v >= 0 && ok(b, v) {
			return v
		}
	}
	return -1
}

// anchor returns the index in q of its byte rarest in the JSON of LLM API
// streams, by a fixed ranking: the 'g' of "usage".
func anchor(q string) int {
	best, rank := 0, 256
	for i := 0; i < len(q); i++ {
		if r := byteRank[q[i]]; r < rank {
			best, rank = i, r
		}
	}
	return best
}

// byteRank ranks bytes from rare (low) to common (high) in the JSON of
// streamed chunks; bytes not listed rank 100.
var byteRank = func() (r [256]int) {
	for i := range r {
		r[i] = 100
	}
	for i, c := range []byte(`qjzxkvwbyGMgfhpumldcrsinotae_" `) {
		r[c] = i
	}
	return r
}()

func isObject(b []byte, v int) bool { return b[v] == '{' }
func isArray(b []byte, v int) bool  { return b[v] == '[' }
func isString(b []byte, v int) bool { return b[v] == '"' }
func isNonEmptyString(b []byte, v int) bool {
	return b[v] == '"' && v+1 < len(b) && b[v+1] != '"'
}

// hasObject reports whether b has key with an object value.
func hasObject(b []byte, key jsonKey) bool { return findValue(b, key, isObject) >= 0 }

// stringValue returns the raw text (escapes left as they are) of the
// first string value of key in b, nil if none.
func stringValue(b []byte, key jsonKey) []byte {
	v := findValue(b, key, isString)
	if v < 0 {
		return nil
	}
	s := b[v+1:]
	if e := bytes.IndexByte(s, '"'); e >= 0 {
		return s[:e]
	}
	return nil
}

// nextLine returns the line of b starting at i without its "\n" or
// "\r\n", and the index after it.
func nextLine(b []byte, i int) (line []byte, next int) {
	e := bytes.IndexByte(b[i:], '\n')
	if e < 0 {
		line, next = b[i:], len(b)
	} else {
		line, next = b[i:i+e], i+e+1
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, next
}

// field returns the value of a "name:value" line of an event, without the
// one optional space after the colon, as the SSE specification reads it.
func field(line, prefix []byte) ([]byte, bool) {
	if !bytes.HasPrefix(line, prefix) {
		return nil, false
	}
	v := line[len(prefix):]
	if len(v) > 0 && v[0] == ' ' {
		v = v[1:]
	}
	return v, true
}

// eventType returns the type of a server-sent event: its "event:" field,
// or else the first "type" string in its data (OpenAI and Anthropic put
// the event's type first).
func eventType(ev []byte) []byte {
	for i := 0; i < len(ev); {
		var line []byte
		line, i = nextLine(ev, i)
		if v, ok := field(line, prefixEvent); ok {
			return v
		}
	}
	return stringValue(ev, keyType)
}

// sseData returns the data of a server-sent event: its "data:" fields
// joined by "\n". One data line (the usual case) is returned in place;
// several are joined in *scratch.
func sseData(ev []byte, scratch *[]byte) []byte {
	var first []byte
	n := 0
	for i := 0; i < len(ev); {
		var line []byte
		line, i = nextLine(ev, i)
		v, ok := field(line, prefixData)
		if !ok {
			continue
		}
		switch n++; n {
		case 1:
			first = v
		case 2:
			*scratch = append(append(append((*scratch)[:0], first...), '\n'), v...)
		default:
			*scratch = append(append(*scratch, '\n'), v...)
		}
	}
	if n > 1 {
		return *scratch
	}
	return first
}

// isContent reports whether an event (an SSE event, or a JSON element of
// Gemini's array stream) carries generated output: what time to first
// token waits for.
func isContent(f format, ev []byte) bool {
	switch f {
	case fmtChat:
		// A delta with text, reasoning, a refusal or a tool call; not the
		// first chunk's role with empty content.
		return findValue(ev, keyContent, isNonEmptyString) >= 0 ||
			findValue(ev, keyToolCalls, isArray) >= 0 ||
			findValue(ev, keyReasoningContent, isNonEmptyString) >= 0 ||
			findValue(ev, keyReasoning, isNonEmptyString) >= 0 ||
			findValue(ev, keyRefusal, isNonEmptyString) >= 0
	case fmtResponses:
		// response.output_text.delta, response.reasoning_summary_text.delta,
		// response.function_call_arguments.delta, ...
		t := eventType(ev)
		return bytes.HasPrefix(t, prefixResponse) && bytes.HasSuffix(t, suffixDelta)
	case fmtMessages:
		return string(eventType(ev)) == "content_block_delta"
	case fmtGemini:
		return findValue(ev, keyCandidates, isArray) >= 0
	}
	return false
}

// look is a quick look at an event: whether it may carry a usage object
// (it rules out most of those that do not, before the search for the
// usage key), and whether it ends the stream by the format's own marker
// (chat's [DONE], message_stop, a terminal response event), after which a
// call without usage is counted as ReasonNoUsage even if the client
// closes the body before EOF.
func look(f format, ev []byte) (mayUsage, end bool) {
	switch f {
	case fmtChat:
		if v, ok := field(ev, prefixData); ok && bytes.HasPrefix(v, done) {
			return false, true
		}
		// OpenAI's chunks end with the usage: null on all but the last
		// when the request asked for it.
		e := len(ev)
		for e > 0 && (ev[e-1] == '\n' || ev[e-1] == '\r') {
			e--
		}
		return !bytes.HasSuffix(ev[:e], suffixNoUsage), false
	case fmtResponses, fmtMessages:
		// Both APIs name every event in an "event:" line first: only
		// message_start and message_delta, and the terminal response
		// events, carry a usage object.
		name, ok := field(ev, prefixEvent)
		if !ok {
			return true, false
		}
		if f == fmtMessages {
			if isName(name, "message_stop") {
				return false, true
			}
			return isName(name, "message_delta") || isName(name, "message_start"), false
		}
		t := isName(name, "response.completed") || isName(name, "response.incomplete") || isName(name, "response.failed")
		return t, t
	}
	return true, false
}

// isName reports whether b starts with the line name. The names compared
// share prefixes ("response.", "message_"): their last byte, checked
// first, tells most apart without a call to compare the rest.
func isName(b []byte, name string) bool {
	n := len(name)
	return len(b) > n && b[n-1] == name[n-1] && (b[n] == '\n' || b[n] == '\r') && string(b[:n]) == name
}
