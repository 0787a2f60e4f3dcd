package labelcap

import (
	"slices"
	"testing"
)

func TestApplyAdmitsInOrderAndSticks(t *testing.T) {
	c := New(2, "")
	labels, folded := c.Apply([]string{"b", "a", "c"})
	if want := []string{"b", "a", "other"}; !slices.Equal(labels, want) || folded != 1 {
		t.Fatalf("first: %v folded %d, want %v folded 1", labels, folded, want)
	}
	// c now ranks first, but b and a were admitted: they keep their series.
	labels, folded = c.Apply([]string{"c", "d", "a", "b"})
	if want := []string{"other", "other", "a", "b"}; !slices.Equal(labels, want) || folded != 2 {
		t.Fatalf("second: %v folded %d, want %v folded 2", labels, folded, want)
	}
}

func TestApplyNeverAdmitsOther(t *testing.T) {
	c := New(5, "rest")
	labels, folded := c.Apply([]string{"rest", "x"})
	if want := []string{"rest", "x"}; !slices.Equal(labels, want) || folded != 1 {
		t.Fatalf("%v folded %d, want %v folded 1", labels, folded, want)
	}
}

func TestApplyLimits(t *testing.T) {
	labels, folded := New(0, "").Apply([]string{"a"})
	if labels[0] != "other" || folded != 1 {
		t.Fatalf("max 0: %v %d", labels, folded)
	}
	labels, folded = New(-1, "").Apply([]string{"a", "b", "c"})
	if !slices.Equal(labels, []string{"a", "b", "c"}) || folded != 0 {
		t.Fatalf("no limit: %v %d", labels, folded)
	}
}
