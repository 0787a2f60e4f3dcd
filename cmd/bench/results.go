package main

// results is benchmark_results.json: the original's four top-level keys
// (latency, streaming, throughput, concurrent, each with sync, async and
// improvement, and the original's field names), plus ours. A scenario not
// run is absent (null).
type results struct {
	Latency     *latencyResult    `json:"latency"`
	Streaming   *streamingResult  `json:"streaming"`
	Throughput  *throughputResult `json:"throughput"`
	Concurrent  *concurrentResult `json:"concurrent"`
	Queues      *queuesResult     `json:"queues"`
	IO          *ioResult         `json:"io"`
	Stall       *stallResult      `json:"stall"`
	Soak        *soakResult       `json:"soak"`
	Honesty     []honestyCheck    `json:"honesty"`
	Criteria    []criterion       `json:"criteria"`
	Environment environment       `json:"environment"`
}
