package litellm

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
)

// Encode writes f as a LiteLLM price table that Decode reads back to f:
// one entry per line, in f's order, each with the fields Decode reads in a
// fixed order (litellm_provider, mode, the five rates, the threshold tiers
// ascending, tiered_pricing), prices and range bounds as their Text. The
// output depends only on f.
func Encode(w io.Writer, f *File) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("{\n")
	first := true
	member := func(key string) {
		if !first {
			bw.WriteString(",\n")
		}
		first = false
		writeString(bw, key)
		bw.WriteByte(':')
	}
	if f.LastUpdated != "" {
		member(LastUpdated)
		writeString(bw, f.LastUpdated)
	}
	for i := range f.Entries {
		e := &f.Entries[i]
		member(e.Key)
		o := object{w: bw}
		o.begin()
		if e.Provider != "" {
			o.key(FieldProvider)
			writeString(bw, e.Provider)
		}
		o.key(FieldMode)
		writeString(bw, e.Mode)
		o.rates("", &e.Rates)
		for _, t := range e.Above {
			o.rates("_above_"+t.Name+"_tokens", &t.Rates)
		}
		if len(e.Tiered) > 0 {
			o.key(FieldTiered)
			bw.WriteByte('[')
			for j, t := range e.Tiered {
				if j > 0 {
					bw.WriteByte(',')
				}
				to := object{w: bw}
				to.begin()
				to.key(FieldRange)
				bw.WriteString("[" + t.StartText + "," + t.EndText + "]")
				to.rates("", &t.Rates)
				bw.WriteByte('}')
			}
			bw.WriteByte(']')
		}
		bw.WriteByte('}')
	}
	bw.WriteString("\n}\n")
	return bw.Flush()
}

// object writes the members of one JSON object.
type object struct {
	w *bufio.Writer
	n int
}

func (o *object) begin() { o.w.WriteByte('{') }

func (o *object) key(k string) {
	if o.n > 0 {
		o.w.WriteByte(',')
	}
	o.n++
	writeString(o.w, k)
	o.w.WriteByte(':')
}

// rates writes the set prices of r, each field name followed by suffix.
func (o *object) rates(suffix string, r *Rates) {
	for _, p := range []struct {
		name  string
		price Price
	}{
		{FieldInput, r.Input},
		{FieldOutput, r.Output},
		{FieldCacheRead, r.CacheRead},
		{FieldCacheWrite, r.CacheWrite},
		{FieldReasoning, r.Reasoning},
	} {
		if p.price.Set() {
			o.key(p.name + suffix)
			o.w.WriteString(p.price.Text)
		}
	}
}

// writeString writes s as a JSON string, without escaping <, > and &.
func writeString(w *bufio.Writer, s string) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	w.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}
