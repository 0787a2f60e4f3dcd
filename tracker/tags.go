package tracker

import (
	"slices"

	"github.com/usagering/usagering/usagefile"
)

// maxInternedTags bounds the tag sets a tagger remembers.
const maxInternedTags = 4096

// tagger computes a record's tag set, in usagefile.EncodeTags's canonical
// form, from the metadata keys configured as tags (WithTagKeys). Folding
// records of a few tag sets formats each set once: the sets are interned
// by their raw key-value bytes. Owned by the goroutine that folds.
type tagger struct {
	keys     []string // sorted
	raw      []byte
	interned map[string]string
}

func newTagger(keys []string) *tagger {
	k := slices.Clone(keys)
	slices.Sort(k)
	return &tagger{keys: slices.Compact(k), interned: map[string]string{}}
}

// of returns the canonical tag set of md: its entries whose keys are tags.
func (g *tagger) of(md map[string]string) string {
	if len(g.keys) == 0 || len(md) == 0 {
		return ""
	}
	g.raw = g.raw[:0]
	for i, k := range g.keys {
		if v, ok := md[k]; ok {
			g.raw = append(g.raw, byte(i))
			g.raw = append(g.raw, v...)
			g.raw = append(g.raw, 0)
		}
	}
	if len(g.raw) == 0 {
		return ""
	}
	if s, ok := g.interned[string(g.raw)]; ok {
		return s
	}
	sub := make(map[string]string, len(g.keys))
	for _, k := range g.keys {
		if v, ok := md[k]; ok {
			sub[k] = v
		}
	}
	s := usagefile.EncodeTags(sub)
	if len(g.interned) < maxInternedTags {
		g.interned[string(g.raw)] = s
	}
	return s
}
