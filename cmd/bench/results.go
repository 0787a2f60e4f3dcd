package main

import (
	"bytes"

	json "github.com/goccy/go-json"
)

// results is benchmark_results.json: one key per scenario, in the order
// they run (the original's four first: latency, streaming, throughput,
// concurrent, each with sync, async and improvement, and the original's
// field names), null for a scenario not run; then ours.
type results struct {
	byScenario  map[string]result // written by run only
	Honesty     []honestyCheck
	Criteria    []criterion
	Environment environment
}

// MarshalJSON writes the scenarios' results in their order, then the
// honesty checks, the criteria and the environment.
func (r *results) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	field := func(name string, v any) error {
		if buf.Len() > 1 {
			buf.WriteByte(',')
		}
		k, _ := json.Marshal(name)
		buf.Write(k)
		buf.WriteByte(':')
		data, err := json.Marshal(v)
		buf.Write(data)
		return err
	}
	for _, s := range scenarios {
		if err := field(s.name, r.byScenario[s.name]); err != nil {
			return nil, err
		}
	}
	for _, f := range []struct {
		name string
		v    any
	}{{"honesty", r.Honesty}, {"criteria", r.Criteria}, {"environment", r.Environment}} {
		if err := field(f.name, f.v); err != nil {
			return nil, err
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}
