package main

import (
	"github.com/usagering/usagering/harness"
)

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
	Honesty     []honestyCheck    `json:"honesty"`
	Criteria    []criterion       `json:"criteria"`
	Environment environment       `json:"environment"`
}

// latencyStats are a histogram's figures in milliseconds, with the
// original's names (mean_ms, median_ms, min_ms, max_ms, p95_ms, p99_ms,
// stdev_ms) and ours (count, p90_ms, p999_ms, p9999_ms).
type latencyStats struct {
	Count    int64   `json:"count"`
	MeanMS   float64 `json:"mean_ms"`
	MedianMS float64 `json:"median_ms"`
	MinMS    float64 `json:"min_ms"`
	MaxMS    float64 `json:"max_ms"`
	P90MS    float64 `json:"p90_ms"`
	P95MS    float64 `json:"p95_ms"`
	P99MS    float64 `json:"p99_ms"`
	P999MS   float64 `json:"p999_ms"`
	P9999MS  float64 `json:"p9999_ms"`
	StdevMS  float64 `json:"stdev_ms"`
}

func statsOf(s harness.Summary) latencyStats {
	return latencyStats{
		Count: s.Count, MeanMS: s.MeanMS(), MedianMS: s.P50MS(), MinMS: s.MinMS(), MaxMS: s.MaxMS(),
		P90MS: s.P90MS(), P95MS: s.P95MS(), P99MS: s.P99MS(), P999MS: s.P999MS(), P9999MS: s.P9999MS(),
		StdevMS: s.StdDevMS(),
	}
}

type latencyResult struct {
	Sync        latencySide        `json:"sync"`
	Async       latencySide        `json:"async"`
	Improvement latencyImprovement `json:"improvement"`
	// PacedFloor (with -rate only) is the same pacer around an empty call:
	// what pacing and the machine add to every paced figure.
	PacedFloor *latencyStats `json:"paced_floor,omitempty"`
}

type latencySide struct {
	latencyStats
	TotalCalls     int64   `json:"total_calls"`
	PersistedCalls int64   `json:"persisted_calls"`
	Mode           string  `json:"mode"` // "closed-loop" or "open-loop N/s"
	LoopMeanNs     float64 `json:"loop_mean_ns,omitempty"`
	LoopMeanCalls  int64   `json:"loop_mean_calls,omitempty"`
	// LoopMeanUnsaturatedNs is the median loop mean of rounds of half the
	// ring's capacity, each after a Flush: the call when the ring has room.
	LoopMeanUnsaturatedNs    float64 `json:"loop_mean_unsaturated_ns,omitempty"`
	LoopMeanUnsaturatedMinNs float64 `json:"loop_mean_unsaturated_min_ns,omitempty"`
	Flushes                  int64   `json:"flushes"` // file writes: sync one per call; async Stats().TotalFlushes
	File                     string  `json:"file"`
}

type latencyImprovement struct {
	SpeedupMean   float64 `json:"speedup_mean"`
	SpeedupMedian float64 `json:"speedup_median"`
	SpeedupP95    float64 `json:"speedup_p95"`
	SpeedupP99    float64 `json:"speedup_p99"`
	SpeedupP999   float64 `json:"speedup_p999"`
	SpeedupMax    float64 `json:"speedup_max"`
}

type streamingResult struct {
	Sync        streamingSide        `json:"sync"`
	Async       streamingSide        `json:"async"`
	Improvement streamingImprovement `json:"improvement"`
}

type streamingSide struct {
	Chunks           int64   `json:"chunks"`
	TotalMS          float64 `json:"total_ms"`
	MeanPerChunkMS   float64 `json:"mean_per_chunk_ms"`
	MaxStutterMS     float64 `json:"max_stutter_ms"`
	StuttersOver10ms int64   `json:"stutters_over_10ms"`
	StuttersOver1ms  int64   `json:"stutters_over_1ms"`
	P50MS            float64 `json:"p50_ms"`
	P99MS            float64 `json:"p99_ms"`
	PersistedCalls   int64   `json:"persisted_calls"`
	File             string  `json:"file"`
}

type streamingImprovement struct {
	SpeedupTotal        float64 `json:"speedup_total"`
	SpeedupMeanPerChunk float64 `json:"speedup_mean_per_chunk"`
	SpeedupMaxStutter   float64 `json:"speedup_max_stutter"`
	StuttersEliminated  int64   `json:"stutters_eliminated"` // sync stutters > 10 ms minus async's
}

type throughputResult struct {
	Sync        throughputSide        `json:"sync"`
	Async       throughputSide        `json:"async"`
	Improvement throughputImprovement `json:"improvement"`
	// Definition says how calls_per_second is counted.
	Definition string `json:"definition"`
}

type throughputSide struct {
	DurationS      float64 `json:"duration_s"`  // the timed window
	TotalCalls     int64   `json:"total_calls"` // calls accepted in the window
	PersistedCalls int64   `json:"persisted_calls"`
	CallsPerSecond float64 `json:"calls_per_second"` // persisted / (window + close)
	// EnqueueCallsPerSecond is accepted / window: for the sync side the same
	// as calls_per_second (every call writes the file before returning).
	EnqueueCallsPerSecond float64 `json:"enqueue_calls_per_second"`
	CloseMS               float64 `json:"close_ms"`
	Flushes               int64   `json:"flushes"`
	File                  string  `json:"file"`
}

type throughputImprovement struct {
	ThroughputIncrease        float64 `json:"throughput_increase"`         // persisted rates
	EnqueueThroughputIncrease float64 `json:"enqueue_throughput_increase"` // accepted rates
}

type concurrentResult struct {
	Sync        concurrentSide        `json:"sync"`
	Async       concurrentSide        `json:"async"`
	Improvement concurrentImprovement `json:"improvement"`
	Sweep       []sweepPoint          `json:"sweep"`
}

type concurrentSide struct {
	NumThreads     int     `json:"num_threads"`
	CallsPerThread int     `json:"calls_per_thread"`
	TotalCalls     int64   `json:"total_calls"`
	TotalMS        float64 `json:"total_ms"` // start to the last goroutine's last call returning (Close excluded)
	MeanMS         float64 `json:"mean_ms"`
	MedianMS       float64 `json:"median_ms"`
	P95MS          float64 `json:"p95_ms"`
	P99MS          float64 `json:"p99_ms"`
	P999MS         float64 `json:"p999_ms"`
	MaxMS          float64 `json:"max_ms"`
	CloseMS        float64 `json:"close_ms"`
	PersistedCalls int64   `json:"persisted_calls"`
	Mode           string  `json:"mode"`
	File           string  `json:"file"`
}

type concurrentImprovement struct {
	SpeedupTotal float64 `json:"speedup_total"`
	SpeedupMean  float64 `json:"speedup_mean"`
	SpeedupP99   float64 `json:"speedup_p99"`
	SpeedupMax   float64 `json:"speedup_max"`
}

type sweepPoint struct {
	Goroutines  int                   `json:"goroutines"`
	Sync        concurrentSide        `json:"sync"`
	Async       concurrentSide        `json:"async"`
	Improvement concurrentImprovement `json:"improvement"`
}

type queuesResult struct {
	Capacity    int        `json:"capacity"`
	Batch       int        `json:"batch"`
	ItemsPerRun int        `json:"items_per_run"`
	ItemBytes   uintptr    `json:"item_bytes"`
	Consumer    string     `json:"consumer"`
	Runs        []queueRun `json:"runs"`
}

type queueRun struct {
	Kind           string  `json:"kind"`
	Producers      int     `json:"producers"`
	Items          int64   `json:"items"`
	Seconds        float64 `json:"seconds"`
	ItemsPerSecond float64 `json:"items_per_second"`
	NsPerItem      float64 `json:"ns_per_item"`
	MeanNs         float64 `json:"mean_ns"`
	P50Ns          int64   `json:"p50_ns"`
	P99Ns          int64   `json:"p99_ns"`
	P999Ns         int64   `json:"p999_ns"`
	P9999Ns        int64   `json:"p9999_ns"`
	MaxNs          int64   `json:"max_ns"`
	FoldOK         bool    `json:"fold_ok"` // the consumer's per-model token sums equal what was pushed
}

type ioResult struct {
	OriginalClaim ioClaim      `json:"original_claim"`
	Sync          ioSync       `json:"sync"`
	Async         []ioAsyncRun `json:"async"`
}

type ioClaim struct {
	Sync  string `json:"sync"`
	Async string `json:"async"`
}

type ioSync struct {
	Records    int64   `json:"records"`
	Writes     int64   `json:"writes"`
	PerHundred float64 `json:"writes_per_100_records"`
	Method     string  `json:"method"`
	NilReturns int64   `json:"nil_returns"`
	File       string  `json:"file"`
}

type ioAsyncRun struct {
	Run          string  `json:"run"`
	Records      int64   `json:"records"`
	Flushes      int64   `json:"flushes"` // Stats().TotalFlushes after Close
	PerHundred   float64 `json:"writes_per_100_records"`
	InodeChanges int64   `json:"inode_changes,omitempty"` // seen by polling, where polled
	Method       string  `json:"method"`
}

type criterion struct {
	Name     string  `json:"name"`
	Target   string  `json:"target"`
	Measured float64 `json:"measured"`
	Unit     string  `json:"unit"`
	Display  string  `json:"display"` // the measured value, for people
	Result   string  `json:"result"`  // PASS, FAIL or SKIP (scenario not run)
	Original bool    `json:"original"`
}
