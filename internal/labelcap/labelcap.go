package labelcap

import "sync"

// DefaultOther is the label value values are folded into.
const DefaultOther = "other"

// Cap admits up to Max label values. It is safe for concurrent use.
type Cap struct {
	max   int
	other string

	mu   sync.Mutex          // guards kept
	kept map[string]struct{} // admitted values; at most max
}

// New returns a Cap that admits up to max values (max < 0: no limit; 0:
// every value is folded) and folds the others into other (DefaultOther if
// "").
func New(max int, other string) *Cap {
	if other == "" {
		other = DefaultOther
	}
	return &Cap{max: max, other: other, kept: map[string]struct{}{}}
}

// Other returns the value folded values are labelled with.
func (c *Cap) Other() string { return c.other }

// Apply labels one collection's values. values are the distinct values seen
// in this collection, in the caller's order of priority (say, by cost,
// highest first): values not yet admitted are admitted in that order while
// there is room. It returns each value's label (the value itself, or
// Other) and how many of values were folded. A value equal to Other is
// never admitted: it is folded, so no series is written twice.
func (c *Cap) Apply(values []string) (labels []string, folded int) {
	labels = make([]string, len(values))
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, v := range values {
		if _, ok := c.kept[v]; ok {
			labels[i] = v
			continue
		}
		if v != c.other && (c.max < 0 || len(c.kept) < c.max) {
			c.kept[v] = struct{}{}
			labels[i] = v
			continue
		}
		labels[i] = c.other
		folded++
	}
	return labels, folded
}
