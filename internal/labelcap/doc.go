// Package labelcap bounds the values a metric label takes: the first Max
// values admitted keep their own label value for the life of the Cap, and
// every other value is folded into one value, Other.
//
// Admission is sticky so that counters stay monotonic: a value that has
// its own series never moves into Other (which would make Other's counter
// jump and its own vanish), and Other only ever gains values whose series
// never existed.
package labelcap
